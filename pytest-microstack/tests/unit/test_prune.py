"""_engine.prune and `python -m pytest_microstack.prune`: old harness image tags go, nothing else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_microstack import prune
from pytest_microstack._engine.engine import Engine
from pytest_microstack._engine.prune import _seconds, prune_images, stale_tags
from pytest_microstack._ownership import CHECKOUT_LABEL, HARNESS_LABEL, image_labels

from unit.fakes import FakeEngine

OLD, NEWER, NEWEST = "a" * 16, "b" * 16, "c" * 16


def tag(
    engine: FakeEngine, name: str, image_id: str, created: int, labels: dict[str, str] | None = None
) -> str:
    """An image tag created `created` seconds into a day, as docker-py reports it (RFC 3339).

    Built by this checkout (the current folder) unless `labels` says otherwise.
    """
    engine.images.present[name] = image_id
    engine.images.labels[image_id] = image_labels(Path.cwd()) if labels is None else labels
    clock = f"{created // 3600:02d}:{created // 60 % 60:02d}:{created % 60:02d}"
    engine.images.created[image_id] = f"2026-12-03T{clock}.5Z"
    return name


@pytest.fixture
def images(engine: FakeEngine) -> dict[str, str]:
    """Three digests of one service, another service, per-run names, and images that aren't ours."""
    return {
        "old": tag(engine, f"example_project-web:it-{OLD}", "sha256:web-1", 100),
        "newer": tag(engine, f"example_project-web:it-{NEWER}", "sha256:web-2", 200),
        "newest": tag(engine, f"example_project-web:it-{NEWEST}", "sha256:web-3", 300),
        "kv": tag(engine, f"example_project-kv:it-{OLD}", "sha256:kv-1", 100),
        "per-run": tag(engine, f"microstack-it-cafe1234-gw0-web:it-{NEWEST}", "sha256:run-1", 400),
        "dev": tag(engine, "example_project-web:latest", "sha256:dev", 50),
        "base": tag(engine, "python:3.11-slim-bookworm", "sha256:base", 10),
        "not-a-digest": tag(engine, "example_project-web:it-dev", "sha256:web-x", 10),
    }


def test_older_digests_and_per_run_names_are_removed_the_newest_and_others_kept(
    engine: FakeEngine, images: dict[str, str]
) -> None:
    result = prune_images(engine)

    assert sorted(result.removed) == sorted([images["old"], images["newer"], images["per-run"]])
    assert sorted(result.kept) == sorted([images["newest"], images["kv"]])
    assert set(engine.images.present) == {images[k] for k in ("newest", "kv", "dev", "base", "not-a-digest")}


def test_an_image_a_container_uses_is_kept_even_when_old(engine: FakeEngine, images: dict[str, str]) -> None:
    engine.add_container("kept-stack-web-1", image="sha256:web-1", status="exited")
    engine.add_container("run-in-progress-web-1", image="sha256:run-1")

    result = prune_images(engine)

    assert result.removed == [images["newer"]]
    assert images["old"] in engine.images.present
    assert images["per-run"] in engine.images.present


def test_a_container_started_between_the_plan_and_the_removal_keeps_its_image(
    engine: FakeEngine, images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = stale_tags(engine)
    monkeypatch.setattr(
        "pytest_microstack._engine.prune.stale_tags", lambda client, repositories=(), root=None: plan
    )
    engine.add_container("late-web-1", image="sha256:web-2")  # the engine refuses: 409

    result = prune_images(engine)

    assert images["newer"] in result.kept
    assert images["newer"] in engine.images.present
    assert images["old"] not in engine.images.present


def test_dry_run_removes_nothing(engine: FakeEngine, images: dict[str, str]) -> None:
    before = dict(engine.images.present)

    result = prune_images(engine, dry_run=True)

    assert len(result.removed) == 3
    assert engine.images.present == before


def test_only_the_repositories_asked_for(engine: FakeEngine, images: dict[str, str]) -> None:
    result = prune_images(engine, ["example_project-kv", "microstack-it-cafe1234-gw0-web"])

    assert result.removed == [images["per-run"]]
    assert images["old"] in engine.images.present


def test_the_command_prints_what_it_removed(
    engine: FakeEngine,
    images: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("pytest_microstack.prune.connect", lambda: Engine(engine, "127.0.0.1"))

    assert prune.main(["--dry-run"]) == 0
    assert "would remove 3 image tags, kept 2" in capsys.readouterr().out
    assert prune.main([]) == 0

    out = capsys.readouterr().out
    assert f"removed {images['old']}\n" in out
    assert out.endswith("removed 3 image tags, kept 2\n")
    assert len([name for name in engine.images.present if name.startswith("example_project-web:it-")]) == 2


@pytest.mark.parametrize(
    ("created", "seconds"),
    [
        pytest.param(1_700_000_000, 1_700_000_000.0, id="list-api-seconds"),
        pytest.param("2023-11-14T22:13:20Z", 1_700_000_000.0, id="inspect-whole-seconds"),
        pytest.param("2023-11-14T22:13:20.548301183Z", 1_700_000_000.548301183, id="inspect-nanoseconds"),
        pytest.param("", 0.0, id="missing"),
        pytest.param("yesterday", 0.0, id="unreadable"),
    ],
)
def test_creation_times_as_the_engine_gives_them(created: object, seconds: float) -> None:
    assert _seconds(created) == pytest.approx(seconds, abs=1e-6)


def test_the_newest_is_chosen_by_time_not_by_text(engine: FakeEngine) -> None:
    """Fractions of varying length: '...:20.5Z' is later than '...:20.49Z', though it sorts first as text."""
    tag(engine, f"app-web:it-{OLD}", "sha256:1", 0)
    engine.images.created["sha256:1"] = "2026-12-03T10:00:20.49Z"
    tag(engine, f"app-web:it-{NEWER}", "sha256:2", 0)
    engine.images.created["sha256:2"] = "2026-12-03T10:00:20.5Z"

    assert prune_images(engine).removed == [f"app-web:it-{OLD}"]


def test_another_checkouts_images_of_the_same_repository_are_never_touched(
    engine: FakeEngine, tmp_path: Path
) -> None:
    """Issue 24 §10: prune untagged every `<repo>:it-<16 hex>`, another clone's current image included."""
    theirs = image_labels(tmp_path / "other-clone")
    old = tag(engine, f"app-web:it-{OLD}", "sha256:theirs-1", 100, labels=theirs)
    current = tag(engine, f"app-web:it-{NEWER}", "sha256:theirs-2", 200, labels=theirs)
    mine_old = tag(engine, f"app-web:it-{NEWEST}", "sha256:mine-1", 300)
    mine_new = tag(engine, f"app-web:it-{'d' * 16}", "sha256:mine-2", 400)

    result = prune_images(engine)

    assert result.removed == [mine_old]
    assert result.kept == [mine_new]
    assert {old, current, mine_new} == set(engine.images.present)
    assert prune_images(engine, root=tmp_path / "other-clone").removed == [old]


@pytest.mark.parametrize("listed_as", ["summary", "inspect"])
@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({}, id="unlabelled"),
        pytest.param({HARNESS_LABEL: "1"}, id="no-checkout"),
        pytest.param({HARNESS_LABEL: "1", CHECKOUT_LABEL: "another-checkout"}, id="checkout-not-this"),
        pytest.param({CHECKOUT_LABEL: image_labels(Path.cwd())[CHECKOUT_LABEL]}, id="no-harness-label"),
        pytest.param({**image_labels(Path.cwd()), HARNESS_LABEL: "0"}, id="harness-label-not-1"),
    ],
)
def test_an_image_without_both_labels_of_this_checkout_is_never_removed(
    engine: FakeEngine, labels: dict[str, str], listed_as: str
) -> None:
    """Labels as the images/json summary gives them (top level) and as docker-py's list does
    (it inspects each image: under Config). The stray is listed first: the ones after it still count."""
    engine.images.listed_as = listed_as
    stray = tag(engine, f"app-web:it-{OLD}", "sha256:stray", 100, labels=labels)
    mine_old = tag(engine, f"app-web:it-{NEWER}", "sha256:mine-1", 200)
    mine_new = tag(engine, f"app-web:it-{NEWEST}", "sha256:mine-2", 300)

    result = prune_images(engine)

    assert (result.removed, result.kept) == ([mine_old], [mine_new])
    assert set(engine.images.present) == {stray, mine_new}


@pytest.mark.parametrize("listed_as", ["summary", "inspect"])
def test_the_newest_is_chosen_by_creation_time_not_by_id_or_tag(engine: FakeEngine, listed_as: str) -> None:
    """Image ids and tags that sort the other way round from the images' creation times."""
    engine.images.listed_as = listed_as
    first = tag(engine, f"app-web:it-{NEWEST}", "sha256:3", 100)
    second = tag(engine, f"app-web:it-{NEWER}", "sha256:2", 200)
    last = tag(engine, f"app-web:it-{OLD}", "sha256:1", 300)

    plan = stale_tags(engine)

    assert (plan.removed, plan.kept) == ([second, first], [last])


def test_the_plan_keeps_what_a_container_uses_running_or_not(
    engine: FakeEngine, images: dict[str, str]
) -> None:
    """Decided when planning, not left to the engine's refusal: a dry run shows it too."""
    engine.add_container("kept-stack-web-1", image="sha256:web-1", status="exited")
    engine.add_container("run-in-progress-web-1", image="sha256:run-1")

    plan = prune_images(engine, dry_run=True)

    assert plan.removed == [images["newer"]]
    assert sorted(plan.kept) == sorted([images["newest"], images["old"], images["kv"], images["per-run"]])


def test_a_container_removed_while_listing_neither_fails_the_prune_nor_keeps_its_image(
    engine: FakeEngine, images: dict[str, str]
) -> None:
    gone = engine.add_container("just-removed-web-1", image="sha256:web-1", status="exited")
    engine.removed_while_listing.add(gone)

    plan = stale_tags(engine)

    assert sorted(plan.removed) == sorted([images["old"], images["newer"], images["per-run"]])


def test_a_tag_another_prune_removed_first_is_skipped_and_the_rest_removed(
    engine: FakeEngine, images: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = stale_tags(engine)
    monkeypatch.setattr(
        "pytest_microstack._engine.prune.stale_tags", lambda client, repositories=(), root=None: plan
    )
    assert plan.removed[0] == images["newer"]  # the first one removed...
    del engine.images.present[images["newer"]]  # ...is gone already

    result = prune_images(engine)

    assert sorted(result.removed) == sorted([images["old"], images["per-run"]])
    assert sorted(result.kept) == sorted([images["newest"], images["kv"]])
    assert images["old"] not in engine.images.present
    assert images["per-run"] not in engine.images.present


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time zone 5 hours west of UTC (a POSIX TZ rule: no tz database needed)."""
    monkeypatch.setenv("TZ", "EST+5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_the_engines_creation_time_is_utc_whatever_the_local_time_zone() -> None:
    assert time.timezone == 5 * 3600
    assert _seconds("2023-11-14T22:13:20Z") == 1_700_000_000.0


def test_the_command_prunes_the_checkout_named_by_root(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("pytest_microstack.prune.connect", lambda: Engine(engine, "127.0.0.1"))
    theirs = image_labels(tmp_path)
    old = tag(engine, f"app-web:it-{OLD}", "sha256:1", 100, labels=theirs)
    tag(engine, f"app-web:it-{NEWER}", "sha256:2", 200, labels=theirs)

    assert prune.main([]) == 0
    assert old in engine.images.present
    assert prune.main(["--root", str(tmp_path)]) == 0
    assert old not in engine.images.present
    assert capsys.readouterr().out.endswith("removed 1 image tags, kept 1\n")

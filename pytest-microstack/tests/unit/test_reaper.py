"""reaper: removal handed to a detached process, and what that process does."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pytest_microstack._cleanup import reaper
from pytest_microstack._engine.engine import Engine
from pytest_microstack._ownership import Owner, owner_labels, process_start_time

from unit.fakes import FakeEngine

ME = Owner.current()
# This very process, but with another start time: a pid reused by someone else.
DEAD = Owner(ME.host, os.getpid(), f"{process_start_time(os.getpid())}0")
LIVE_ELSEWHERE = Owner(f"not-{ME.host}", 1, "1")


def labels(owner: Owner) -> dict[str, str]:
    return owner_labels(owner, keep=False, config_hash="cafe")


def test_spawn_starts_a_detached_python_that_outlives_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, list[str], dict[str, Any]]] = []

    def record(path: str, argv: list[str], env: dict[str, str], **kwargs: Any) -> int:
        started.append((path, argv, kwargs))
        return 4242

    monkeypatch.setattr(os, "posix_spawn", record)

    assert reaper.spawn(["p-1", "p-2"], "host#b#1@7:9") == 4242

    [(_, argv, kwargs)] = started
    assert argv[1:] == [
        "-m",
        "pytest_microstack._cleanup.reaper",
        "--sweep",
        "--owner",
        "host#b#1@7:9",
        "p-1",
        "p-2",
    ]
    assert kwargs["setsid"] is True  # neither Ctrl-C nor pytest's exit reaches it
    assert [action[1] for action in kwargs["file_actions"]] == [0, 1, 2]  # nothing of ours held open


def test_main_removes_the_owners_labelled_resources_of_the_named_projects_and_sweeps_dead_runs(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    ours = "microstack-it-ours-main"
    engine.add_container(f"{ours}-web", project=ours, labels=labels(ME))
    engine.add_network(f"{ours}_default", project=ours, labels=labels(ME))
    dead = "microstack-it-dead-main"
    engine.add_container(f"{dead}-web", project=dead, labels=labels(DEAD))
    engine.add_container("other-web", project="other")
    monkeypatch.setattr("pytest_microstack._engine.engine.connect", lambda: Engine(engine, "127.0.0.1"))

    assert reaper.main(["--sweep", "--owner", ME.label(), ours]) == 0

    names = [attrs["Name"] for attrs in engine.container_attrs.values()]
    assert names == ["/other-web"]  # not ours and not labelled as a dead run's: left alone
    assert engine.network_attrs == {}


def test_main_leaves_what_the_owner_did_not_label_in_the_named_project(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    ours = "microstack-it-ours-main"
    engine.add_container(f"{ours}-web", project=ours, labels=labels(ME))
    engine.add_container(f"{ours}-by-hand", project=ours)
    engine.add_volume(f"{ours}_by-hand", project=ours)
    engine.add_container(f"{ours}-live-run", project=ours, labels=labels(LIVE_ELSEWHERE))
    monkeypatch.setattr("pytest_microstack._engine.engine.connect", lambda: Engine(engine, "127.0.0.1"))

    assert reaper.main(["--owner", ME.label(), ours]) == 0

    names = sorted(attrs["Name"] for attrs in engine.container_attrs.values())
    assert names == [f"/{ours}-by-hand", f"/{ours}-live-run"]
    assert list(engine.volume_attrs) == [f"{ours}_by-hand"]


def test_main_refuses_a_project_without_the_harness_prefix(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    engine.add_container("microstack-user-service-1", project="microstack", labels=labels(ME))
    engine.add_volume("microstack_user-data", project="microstack", labels=labels(ME))
    monkeypatch.setattr("pytest_microstack._engine.engine.connect", lambda: Engine(engine, "127.0.0.1"))

    assert reaper.main(["--owner", ME.label(), "microstack"]) == 1

    assert len(engine.container_attrs) == 1
    assert list(engine.volume_attrs) == ["microstack_user-data"]


@pytest.mark.parametrize("argv", [["microstack-it-ours-main"], ["microstack-it-ours-main", "--owner"]])
def test_main_without_an_owner_removes_nothing(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    engine.add_container("microstack-it-ours-main-web", project="microstack-it-ours-main", labels=labels(ME))
    monkeypatch.setattr("pytest_microstack._engine.engine.connect", lambda: Engine(engine, "127.0.0.1"))

    assert reaper.main(argv) == 2

    assert len(engine.container_attrs) == 1
    assert "--owner is required" in capsys.readouterr().err


def test_a_failed_removal_is_reported_in_the_exit_code(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    def broken_connect() -> Engine:
        raise_on = FakeEngine()
        raise_on.containers.list = _raise  # type: ignore[method-assign]
        return Engine(raise_on, "127.0.0.1")

    monkeypatch.setattr("pytest_microstack._engine.engine.connect", broken_connect)

    assert reaper.main(["--owner", ME.label(), "microstack-it-ours-main"]) == 1


def _raise(*args: Any, **kwargs: Any) -> list[Any]:
    raise RuntimeError("engine went away")

"""pytest_microstack._keep.kept: records of stacks left running on purpose, finding and describing them."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._errors import UnsafeStateDirError
from pytest_microstack._keep.kept import describe_kept, find_kept_projects, load_record, save_record
from pytest_microstack._ownership import CONFIG_LABEL, KEEP_LABEL
from pytest_microstack._settings import ServiceSpec

from unit.fakes import FakeCompose, FakeEngine

OVERRIDE = "services:\n  api:\n    labels: {a: b}\n"


def test_a_record_is_saved_private_and_loaded_back(private_state: Path) -> None:
    saved = save_record(private_state, "p1", OVERRIDE, {"SECRET": "s3cr3t"})

    loaded = load_record(private_state, "p1")

    assert loaded == saved
    assert loaded is not None
    assert loaded.override.read_text() == OVERRIDE
    assert loaded.environment == {"SECRET": "s3cr3t"}
    folder = private_state / "kept" / "p1"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_saving_again_replaces_the_record(private_state: Path) -> None:
    save_record(private_state, "p1", OVERRIDE, {"SECRET": "old"})
    save_record(private_state, "p1", OVERRIDE + "# new\n", {"SECRET": "new"})

    loaded = load_record(private_state, "p1")

    assert loaded is not None
    assert loaded.environment == {"SECRET": "new"}
    assert loaded.override.read_text().endswith("# new\n")


def test_a_stack_never_recorded_has_nothing_to_reuse(private_state: Path) -> None:
    assert load_record(private_state, "p1") is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda folder: (folder / "environment.json").write_text("{trunc"), id="half-written"),
        pytest.param(lambda folder: (folder / "compose.harness.yaml").unlink(), id="override-missing"),
        pytest.param(lambda folder: (folder / "environment.json").unlink(), id="environment-missing"),
    ],
)
def test_a_damaged_record_has_nothing_to_reuse(private_state: Path, damage: Callable[[Path], object]) -> None:
    save_record(private_state, "p1", OVERRIDE, {})
    damage(private_state / "kept" / "p1")

    assert load_record(private_state, "p1") is None


def test_a_record_others_could_have_written_is_refused(private_state: Path) -> None:
    save_record(private_state, "p1", OVERRIDE, {"SECRET": "s"})
    planted = private_state / "kept" / "p1" / "environment.json"
    planted.write_text(json.dumps({"SECRET": "attacker's"}))
    planted.chmod(0o666)

    with pytest.raises(UnsafeStateDirError, match="open to other users"):
        load_record(private_state, "p1")


def test_find_kept_projects_matches_running_kept_stacks_of_the_same_configuration(engine: FakeEngine) -> None:
    kept = {KEEP_LABEL: "true", CONFIG_LABEL: "cfg-1"}
    engine.add_container("a-1", project="stopped", labels=kept, status="exited")
    engine.add_container("b-1", project="not-kept", labels={KEEP_LABEL: "false", CONFIG_LABEL: "cfg-1"})
    engine.add_container("c-1", project="other-config", labels={KEEP_LABEL: "true", CONFIG_LABEL: "cfg-2"})

    assert find_kept_projects(engine, "cfg-1") == []

    engine.add_container("d-1", project="the-one", labels=kept)
    assert find_kept_projects(engine, "cfg-1") == ["the-one"]


def test_describe_kept_names_urls_and_how_to_remove(engine: FakeEngine) -> None:
    engine.add_container("p-api-1", project="p", service="api", ports={5000: 35000})
    engine.add_container("p-worker-1", project="p", service="worker")
    services = (ServiceSpec("api", 5000), ServiceSpec("worker", check="docker"))
    stack = ComposeStack(
        cast(Any, FakeCompose(project_name="p")), cast(Any, engine), "127.0.0.1", services, 1
    )

    text = describe_kept(stack)

    assert "stack p left running" in text
    assert "api http://127.0.0.1:35000" in text
    assert "worker (no published port)" in text
    assert "pytest --reuse-stack" in text
    assert "docker compose -p p down -v" in text

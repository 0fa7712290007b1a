"""reaper: removal handed to a detached process, and what that process does."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from pytest_microstack import reaper
from pytest_microstack.engine import Engine

from unit.fakes import FakeEngine


def test_spawn_starts_a_detached_python_that_outlives_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[list[str], dict[str, Any]]] = []

    class Recorder:
        def __init__(self, command: list[str], **kwargs: Any) -> None:
            started.append((command, kwargs))

    monkeypatch.setattr(subprocess, "Popen", Recorder)

    reaper.spawn(["p-1", "p-2"])

    [(command, kwargs)] = started
    assert command[1:] == ["-m", "pytest_microstack.reaper", "--sweep", "p-1", "p-2"]
    assert kwargs["start_new_session"] is True  # neither Ctrl-C nor pytest's exit reaches it
    assert kwargs["stdin"] is subprocess.DEVNULL


def test_main_removes_the_named_projects_and_sweeps_dead_runs(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    engine.add_container("ours-web", project="ours")
    engine.add_network("ours_default", project="ours")
    engine.add_container("other-web", project="other")
    monkeypatch.setattr("pytest_microstack.engine.connect", lambda: Engine(engine, "127.0.0.1"))

    assert reaper.main(["--sweep", "ours"]) == 0

    names = [attrs["Name"] for attrs in engine.container_attrs.values()]
    assert names == ["/other-web"]  # not ours and not labelled as a dead run's: left alone
    assert engine.network_attrs == {}


def test_a_failed_removal_is_reported_in_the_exit_code(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    def broken_connect() -> Engine:
        raise_on = FakeEngine()
        raise_on.containers.list = _raise  # type: ignore[method-assign]
        return Engine(raise_on, "127.0.0.1")

    monkeypatch.setattr("pytest_microstack.engine.connect", broken_connect)

    assert reaper.main(["ours"]) == 1


def _raise(*args: Any, **kwargs: Any) -> list[Any]:
    raise RuntimeError("engine went away")

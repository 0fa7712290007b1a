"""reaper: removal handed to a detached process, and what that process does."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pytest_microstack._cleanup import reaper
from pytest_microstack._engine.engine import Engine

from unit.fakes import FakeEngine


def test_spawn_starts_a_detached_python_that_outlives_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, list[str], dict[str, Any]]] = []

    def record(path: str, argv: list[str], env: dict[str, str], **kwargs: Any) -> int:
        started.append((path, argv, kwargs))
        return 4242

    monkeypatch.setattr(os, "posix_spawn", record)

    assert reaper.spawn(["p-1", "p-2"]) == 4242

    [(_, argv, kwargs)] = started
    assert argv[1:] == ["-m", "pytest_microstack._cleanup.reaper", "--sweep", "p-1", "p-2"]
    assert kwargs["setsid"] is True  # neither Ctrl-C nor pytest's exit reaches it
    assert [action[1] for action in kwargs["file_actions"]] == [0, 1, 2]  # nothing of ours held open


def test_main_removes_the_named_projects_and_sweeps_dead_runs(
    monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> None:
    engine.add_container("ours-web", project="ours")
    engine.add_network("ours_default", project="ours")
    engine.add_container("other-web", project="other")
    monkeypatch.setattr("pytest_microstack._engine.engine.connect", lambda: Engine(engine, "127.0.0.1"))

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

    monkeypatch.setattr("pytest_microstack._engine.engine.connect", broken_connect)

    assert reaper.main(["ours"]) == 1


def _raise(*args: Any, **kwargs: Any) -> list[Any]:
    raise RuntimeError("engine went away")

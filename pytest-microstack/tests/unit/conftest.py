"""Fixtures for the harness's unit tests: a fake engine, HTTP on 127.0.0.1 only, no Docker,
and a state folder of the test's own.

None of these may share a name with the harness plugin's fixtures: using one of
those marks a test as integration and starts the compose stack.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import docker.api.client
import pytest

from unit.fakes import FakeEngine

# Owner.current() reads this machine's id from the state folder, and test modules build
# owners at import, before any fixture runs: point it at a folder of this run from the start.
_RUN_STATE = tempfile.mkdtemp(prefix="microstack-unit-state-")
os.environ["MICROSTACK_STATE_DIR"] = _RUN_STATE
atexit.register(shutil.rmtree, _RUN_STATE, ignore_errors=True)

ENGINE_PROGRAMS = frozenset({"docker", "docker-compose", "podman"})
REAPER_MODULE = "pytest_microstack._cleanup.reaper"  # a detached process that works on the real engine


_REAL_POSIX_SPAWN = os.posix_spawn


def _refuse_engine_processes(args: Any) -> None:
    """Fail the test if `args` would run the Docker CLI or the reaper (which works on the real engine)."""
    words = [str(arg) for arg in args] if isinstance(args, list | tuple) else str(args).split()
    if words and Path(words[0]).name in ENGINE_PROGRAMS:
        raise AssertionError(f"a unit test tried to run the engine's CLI: {args!r}")
    if REAPER_MODULE in words:
        raise AssertionError(f"a unit test tried to start the reaper on the real engine: {args!r}")


class _NoEnginePopen(subprocess.Popen[bytes]):
    """subprocess.Popen that refuses to start the Docker CLI or the reaper; anything else runs as usual."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        _refuse_engine_processes(args)
        super().__init__(args, *rest, **kwargs)


def _no_engine_client(self: object, *args: Any, **kwargs: Any) -> None:
    raise AssertionError("a unit test tried to connect to the Docker engine")


def _no_engine_spawn(path: Any, argv: Any, *args: Any, **kwargs: Any) -> int:
    """os.posix_spawn that refuses the Docker CLI and the reaper, and spawns anything else.

    Refusing every spawn would break `subprocess` itself from Python 3.13 on,
    which starts its children through os.posix_spawn where it can.
    """
    _refuse_engine_processes(argv)
    return _REAL_POSIX_SPAWN(path, argv, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests run without Docker: fail at once if harness code reaches for the real engine."""
    monkeypatch.setattr(subprocess, "Popen", _NoEnginePopen)
    monkeypatch.setattr(docker.api.client.APIClient, "__init__", _no_engine_client)
    monkeypatch.setattr(os, "posix_spawn", _no_engine_spawn)


@pytest.fixture(autouse=True)
def private_state(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness's private state folder for this test: never the developer's ~/.cache."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("MICROSTACK_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def engine() -> FakeEngine:
    """An empty fake Docker engine."""
    return FakeEngine()


@pytest.fixture(params=["docker", "podman"])
def either_engine(request: pytest.FixtureRequest) -> FakeEngine:
    """An empty fake engine that answers as Docker, then (a second run of the test) as Podman."""
    return FakeEngine(request.param)

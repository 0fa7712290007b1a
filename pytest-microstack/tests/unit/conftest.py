"""Fixtures for the harness's unit tests: a fake engine, HTTP on 127.0.0.1 only, and no Docker.

None of these may share a name with the harness plugin's fixtures: using one of
those marks a test as integration and starts the compose stack.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.api.client
import pytest
from pytest_httpserver import HTTPServer

from unit.fakes import FakeEngine

ENGINE_PROGRAMS = frozenset({"docker", "docker-compose", "podman"})


class _NoEnginePopen(subprocess.Popen[bytes]):
    """subprocess.Popen that refuses to start the Docker CLI; anything else runs as usual."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        program = args[0] if isinstance(args, list | tuple) else str(args).split()[0]
        if Path(str(program)).name in ENGINE_PROGRAMS:
            raise AssertionError(f"a unit test tried to run the engine's CLI: {args!r}")
        super().__init__(args, *rest, **kwargs)


def _no_engine_client(self: object, *args: Any, **kwargs: Any) -> None:
    raise AssertionError("a unit test tried to connect to the Docker engine")


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests run without Docker: fail at once if harness code reaches for the real engine."""
    monkeypatch.setattr(subprocess, "Popen", _NoEnginePopen)
    monkeypatch.setattr(docker.api.client.APIClient, "__init__", _no_engine_client)


@pytest.fixture(scope="session")
def make_httpserver() -> Iterator[HTTPServer]:
    """pytest-httpserver's server for this directory, bound to 127.0.0.1 rather than "localhost"."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def engine() -> FakeEngine:
    """An empty fake Docker engine."""
    return FakeEngine()

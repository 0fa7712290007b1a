"""Fixtures for the harness's unit tests: a fake engine, and HTTP on 127.0.0.1 only.

None of these may share a name with the harness plugin's fixtures: using one of
those marks a test as integration and starts the compose stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.unit.fakes import FakeEngine


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

"""pytest-httpserver's `make_httpserver`, bound to 127.0.0.1 rather than "localhost" (which
may resolve to ::1, or elsewhere): tests send traffic to 127.0.0.1 only.

One definition for every unit-test tree, registered as a pytest plugin (`pytest_plugins`):
by pytest-microstack/tests/conftest.py (the plugin's tests run alone from its sdist and
in the mutation harness), and by the repository's root conftest.py for tests/unit and
tests/tools (pytest.ini puts pytest-microstack/tests on the path).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture(scope="session")
def make_httpserver() -> Iterator[HTTPServer]:
    """[session] pytest-httpserver's server on 127.0.0.1 (its `httpserver` resets it per test)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()

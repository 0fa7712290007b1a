"""Fixtures for product-service: an app on tmp_path SQLite and a fake user-service."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from product_helpers import FakeUserService
from product_service import SETTINGS, create_app
from pytest_httpserver import HTTPServer


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Function scope: hide the developer's environment so only test_config counts."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)


@pytest.fixture
def users(httpserver: HTTPServer) -> Iterator[FakeUserService]:
    """Function scope: a fake user-service on pytest-httpserver, reset per test."""
    # The fake's werkzeug access lines would mix into the JSON logs that tests read.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    yield FakeUserService(httpserver)
    httpserver.check_assertions()  # fail on requests nobody expected


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Function scope: a fresh SQLite path in a directory that does not exist yet."""
    return tmp_path / "data" / "products.db"


@pytest.fixture
def make_app(db_path: Path, users: FakeUserService) -> Callable[..., Flask]:
    """Function scope: factory of apps on db_path, pointed at `users`; kwargs win."""

    def make(**overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "DATABASE_PATH": str(db_path),
            "USER_SERVICE_URL": users.url,
        }
        return create_app({**config, **overrides})

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """Function scope: the default app; use make_app(...) for other settings."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Function scope: Flask's test client for `app`."""
    return app.test_client()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """Function scope: a URL on a bound, non-listening port: connects are refused.

    Keeping the socket bound (not closing it) stops anything else from taking the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Function scope: a callable that parses captured stdout as JSON log lines."""

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    return read

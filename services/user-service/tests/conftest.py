"""Fixtures for user-service: an app on tmp_path SQLite, a client, auth helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from user_helpers import SECRET, WINDOW, AuthActions
from user_service import SETTINGS, create_app


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Function scope: hide the developer's environment so only test_config counts."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Function scope: a fresh SQLite path in a directory that does not exist yet."""
    return tmp_path / "data" / "users.db"


@pytest.fixture
def make_app(db_path: Path) -> Callable[..., Flask]:
    """Function scope: factory building apps on db_path; keyword overrides win."""

    def make(**overrides: Any) -> Flask:
        config = {"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_PATH": str(db_path)}
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
def auth(client: FlaskClient) -> AuthActions:
    """Function scope: AuthActions bound to `client`."""
    return AuthActions(client)


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """Function scope: a callable that parses captured stdout as JSON log lines."""

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    return read


@pytest.fixture
def guarded(make_app: Callable[..., Flask]) -> Flask:
    """Function scope: 3 failures per (account, client), 5 per client, in a WINDOW-second window."""
    return make_app(
        LOGIN_FAILURES_PER_ACCOUNT=3, LOGIN_FAILURES_PER_CLIENT=5, LOGIN_FAILURE_WINDOW_SECONDS=WINDOW
    )

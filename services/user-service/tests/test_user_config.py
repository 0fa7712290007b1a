"""Settings: environment, overrides, fail-fast errors, and the gunicorn config file."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from flask import Flask
from servicekit.config import ConfigError
from user_helpers import SECRET
from user_service import create_app

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "env.db"))
    monkeypatch.setenv("TOKEN_TTL_SECONDS", "60")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    app = create_app()
    assert app.config["TOKEN_TTL_SECONDS"] == 60
    assert app.config["LOG_LEVEL"] == "WARNING"
    assert (tmp_path / "env.db").exists()
    assert not app.debug


def test_defaults(tmp_path: Path) -> None:
    app = create_app({"SECRET_KEY": SECRET, "DATABASE_PATH": str(tmp_path / "u.db")})
    assert app.config["TOKEN_TTL_SECONDS"] == 3600
    assert app.config["LOG_LEVEL"] == "INFO"
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["DEMO_USERNAME"] is None


def test_test_config_beats_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOKEN_TTL_SECONDS", "60")
    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "DATABASE_PATH": str(tmp_path / "u.db"),
            "TOKEN_TTL_SECONDS": 5,
        }
    )
    assert app.config["TOKEN_TTL_SECONDS"] == 5


@pytest.mark.parametrize(
    ("env", "name", "needle"),
    [
        pytest.param({}, "SECRET_KEY", "required", id="secret-missing"),
        pytest.param({"SECRET_KEY": ""}, "SECRET_KEY", "required", id="secret-empty"),
        pytest.param(
            {"SECRET_KEY": "short"},
            "SECRET_KEY",
            "at least 32 bytes",
            id="secret-short",
        ),
        pytest.param(
            {"SECRET_KEY": SECRET, "TOKEN_TTL_SECONDS": "soon"},
            "TOKEN_TTL_SECONDS",
            "invalid value 'soon'",
            id="ttl-not-int",
        ),
        pytest.param(
            {"SECRET_KEY": SECRET, "TOKEN_TTL_SECONDS": "0"},
            "TOKEN_TTL_SECONDS",
            "must be > 0",
            id="ttl-zero",
        ),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    name: str,
    needle: str,
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "u.db"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=name) as info:
        create_app()
    assert info.value.name == name
    assert needle in str(info.value)
    assert SECRET not in str(info.value)


def test_database_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "users.db"
    create_app({"SECRET_KEY": SECRET, "DATABASE_PATH": str(path)})
    assert path.exists()


def test_debug_is_never_on(app: Flask) -> None:
    assert app.debug is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {},
            {"bind": "0.0.0.0:5000", "workers": 2, "threads": 4, "loglevel": "info"},
            id="defaults",
        ),
        pytest.param(
            {
                "PORT": "8000",
                "GUNICORN_WORKERS": "3",
                "GUNICORN_THREADS": "8",
                "LOG_LEVEL": "DEBUG",
            },
            {"bind": "0.0.0.0:8000", "workers": 3, "threads": 8, "loglevel": "debug"},
            id="from-env",
        ),
    ],
)
def test_gunicorn_config(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, object]
) -> None:
    for name in ("PORT", "GUNICORN_WORKERS", "GUNICORN_THREADS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert {key: conf[key] for key in expected} == expected
    assert conf["wsgi_app"] == "user_service:create_app()"
    assert conf["worker_class"] == "servicekit.gunicorn_worker.BufferingThreadWorker"
    assert (conf["timeout"], conf["graceful_timeout"]) == (30, 5)
    assert conf["accesslog"] is None
    assert conf["errorlog"] == "-"
    assert conf["control_socket_disable"] is True


@pytest.mark.parametrize("value", ["abc", "0", "-1"])
def test_gunicorn_config_rejects_bad_port(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PORT", value)
    with pytest.raises(SystemExit, match="PORT"):
        runpy.run_path(str(GUNICORN_CONF))

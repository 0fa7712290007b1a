"""Health, readiness, JSON errors, settings, database faults and the gunicorn config."""

from __future__ import annotations

import os
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from product_service import create_app
from servicekit.config import ConfigError

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def test_health_is_ok_without_io(app: Flask, tmp_path: Path) -> None:
    app.config["DATABASE_PATH"] = str(tmp_path)  # a directory: any DB access would fail
    response = app.test_client().get("/health")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_ready_checks_only_our_database(make_app: Callable[..., Flask], refused_url: str) -> None:
    client = make_app(USER_SERVICE_URL=refused_url).test_client()
    response = client.get("/ready")
    assert (response.status_code, response.json) == (200, {"status": "ready"})


def test_ready_is_503_when_database_fails(app: Flask, tmp_path: Path) -> None:
    app.config["DATABASE_PATH"] = str(tmp_path)
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/", 404, id="root"),
        pytest.param("GET", "/products/1/extra", 404, id="unknown-subpath"),
        pytest.param("DELETE", "/products/1", 405, id="delete-product"),
        pytest.param("PUT", "/products", 405, id="put-products"),
        pytest.param("POST", "/products/validate-user", 405, id="post-validate-user"),
    ],
)
def test_http_errors_are_json(client: FlaskClient, method: str, path: str, status: int) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.is_json
    assert response.json["error"]  # type: ignore[index]
    assert response.headers["X-Request-ID"]


def test_unhandled_exception_is_generic_500_json(
    app: Flask, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise KeyError("internal detail")

    response = app.test_client().get("/boom")
    assert (response.status_code, response.json) == (
        500,
        {"error": "internal server error"},
    )
    assert b"internal detail" not in response.data
    (error,) = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("path", ["/products", "/products/1"])
def test_database_fault_gives_500_json_then_recovers(app: Flask, tmp_path: Path, path: str) -> None:
    client = app.test_client()
    good = app.config["DATABASE_PATH"]
    app.config["DATABASE_PATH"] = str(tmp_path)  # fails the open for every user, root included
    response = client.get(path)
    assert (response.status_code, response.json) == (
        500,
        {"error": "internal server error"},
    )
    app.config["DATABASE_PATH"] = good
    assert client.get(path).status_code == 200


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root reading the file; "
    "test_database_fault_gives_500_json_then_recovers covers the same path",
)
def test_unreadable_database_file_gives_500_then_recovers(client: FlaskClient, db_path: Path) -> None:
    db_path.chmod(0)
    try:
        assert client.get("/products").status_code == 500
        assert client.get("/ready").status_code == 503
    finally:
        db_path.chmod(0o644)
    assert client.get("/products").status_code == 200


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "DATABASE_PATH": str(tmp_path / "p.db"),
        "USER_SERVICE_URL": "http://users.internal:8080/",
        "USER_SERVICE_CONNECT_TIMEOUT": "0.5",
        "USER_SERVICE_READ_TIMEOUT": "3",
        "USER_SERVICE_RETRIES": "0",
        "USER_SERVICE_RETRY_BACKOFF": "0.25",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    client = app.extensions["user_client"]
    assert client.base_url == "http://users.internal:8080"
    assert client.timeout == (0.5, 3.0)
    assert client.retries == 0
    assert client.backoff == 0.25
    assert client.retry.backoff_factor == 0.25
    assert not app.debug


def test_defaults(tmp_path: Path) -> None:
    app = create_app({"DATABASE_PATH": str(tmp_path / "p.db")})
    assert app.config["USER_SERVICE_URL"] == "http://user-service:5000"
    assert app.extensions["user_client"].timeout == (1.0, 2.0)
    assert app.config["USER_SERVICE_RETRIES"] == 2
    assert app.extensions["user_client"].backoff == 0.1
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("USER_SERVICE_URL", "user-service:5000", id="url-no-scheme"),
        pytest.param("USER_SERVICE_CONNECT_TIMEOUT", "soon", id="connect-timeout-text"),
        pytest.param("USER_SERVICE_READ_TIMEOUT", "0", id="read-timeout-zero"),
        pytest.param("USER_SERVICE_READ_TIMEOUT", "-1", id="read-timeout-negative"),
        pytest.param("USER_SERVICE_RETRIES", "-1", id="retries-negative"),
        pytest.param("USER_SERVICE_RETRIES", "two", id="retries-text"),
        pytest.param("USER_SERVICE_RETRY_BACKOFF", "-0.1", id="backoff-negative"),
        pytest.param("USER_SERVICE_RETRY_BACKOFF", "nan", id="backoff-not-finite"),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "p.db"))
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as info:
        create_app()
    assert info.value.name == name


def test_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "GUNICORN_WORKERS", "GUNICORN_THREADS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert conf["bind"] == "0.0.0.0:5001"
    assert conf["wsgi_app"] == "product_service:create_app()"
    assert (conf["workers"], conf["threads"]) == (2, 4)
    assert conf["worker_class"] == "servicekit.gunicorn_worker.BufferingThreadWorker"
    assert (conf["timeout"], conf["graceful_timeout"]) == (30, 5)
    assert (conf["accesslog"], conf["errorlog"], conf["loglevel"]) == (
        None,
        "-",
        "info",
    )

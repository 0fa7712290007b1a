"""Health, readiness, JSON errors, request ids, logs and database faults."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit.health import UNAVAILABLE
from user_helpers import AuthActions

HEX32 = r"[0-9a-f]{32}"


def test_health_is_ok_without_touching_the_database(app: Flask, tmp_path: Path) -> None:
    app.config["DATABASE_PATH"] = str(tmp_path)  # a directory: any DB access would fail
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_ready_when_database_works(client: FlaskClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


@pytest.mark.parametrize(
    "break_db",
    [
        pytest.param(lambda app, tmp: str(tmp), id="path-is-a-directory"),
        pytest.param(lambda app, tmp: str(tmp / "missing" / "users.db"), id="file-missing"),
    ],
)
def test_ready_is_503_json_when_database_fails(
    app: Flask, tmp_path: Path, break_db: Callable[[Flask, Path], str]
) -> None:
    app.config["DATABASE_PATH"] = break_db(app, tmp_path)
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    # A fixed reason: the exception's text ("unable to open database file") stays in the log.
    assert response.json == {"status": "unavailable", "error": UNAVAILABLE}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/nope", 404, id="unknown-path"),
        pytest.param("GET", "/users/abc/def", 404, id="unknown-subpath"),
        pytest.param("DELETE", "/users", 405, id="wrong-method-users"),
        pytest.param("GET", "/auth/token", 405, id="wrong-method-token"),
        pytest.param("POST", "/health", 405, id="wrong-method-health"),
    ],
)
def test_http_errors_are_json(client: FlaskClient, method: str, path: str, status: int) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.is_json
    assert response.json["error"]  # type: ignore[index]
    if status == 405:
        assert "Allow" in response.headers


def test_unhandled_exception_is_generic_500_json_and_logged(
    app: Flask, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json == {"error": "internal server error"}
    assert b"secret internals" not in response.data
    assert response.headers["X-Request-ID"] == "boom-1"
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-1"
    assert "RuntimeError: secret internals" in errors[0]["exc"]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        pytest.param("abc-123_X.y", "abc-123_X.y", id="valid-echoed"),
        pytest.param("a" * 128, "a" * 128, id="max-length-echoed"),
        pytest.param("a" * 129, None, id="too-long-replaced"),
        pytest.param("bad id", None, id="space-replaced"),
        pytest.param("x\u00e9y", None, id="non-ascii-replaced"),
        pytest.param("", None, id="empty-replaced"),
        pytest.param(None, None, id="absent-generated"),
    ],
)
@pytest.mark.parametrize("path", ["/health", "/nope", "/users/authenticate"])
def test_request_id_is_on_every_response(
    client: FlaskClient, path: str, sent: str | None, expected: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    returned = client.get(path, headers=headers).headers["X-Request-ID"]
    if expected is None:
        assert returned != sent
        assert re.fullmatch(HEX32, returned)
    else:
        assert returned == expected


def test_request_id_on_413(client: FlaskClient) -> None:
    response = client.post(
        "/users",
        data="x" * (1024 * 1024 + 1),
        content_type="application/json",
        headers={"X-Request-ID": "big-1"},
    )
    assert response.status_code == 413
    assert response.headers["X-Request-ID"] == "big-1"


def test_access_log_is_one_json_line_per_request(
    client: FlaskClient, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    log_lines()  # drop startup output
    client.get("/ready", headers={"X-Request-ID": "trace-42"})
    (line,) = log_lines()
    assert line["service"] == "user-service"
    assert line["request_id"] == "trace-42"
    assert line["level"] == "INFO"
    assert line["msg"] == "request"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/ready", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["ts"].endswith("+00:00")


def test_successful_liveness_probes_stay_out_of_the_info_log(
    client: FlaskClient, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    log_lines()  # drop startup output
    client.get("/health")
    client.get("/nope")

    assert [line["path"] for line in log_lines()] == ["/nope"]


def _token_then_break(app: Flask, broken_path: str) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.test_client()
    auth = AuthActions(client)
    headers = auth.bearer(auth.token("alice"))
    good = app.config["DATABASE_PATH"]
    app.config["DATABASE_PATH"] = broken_path
    return client, headers, good


def test_database_fault_gives_500_json_then_recovers(app: Flask, tmp_path: Path) -> None:
    # Pointing at a directory fails the open for every user, root included.
    client, headers, good = _token_then_break(app, str(tmp_path))
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/users/authenticate", {"headers": headers}),
        (
            "POST",
            "/auth/token",
            {"json": {"username": "alice", "password": "s3cret-pass"}},
        ),
        ("POST", "/users", {"json": {"username": "bob", "password": "s3cret-pass"}}),
    ]
    for method, path, kwargs in calls:
        response = client.open(path, method=method, **kwargs)
        assert response.status_code == 500, path
        assert response.json == {"error": "internal server error"}
    app.config["DATABASE_PATH"] = good
    assert client.get("/users/authenticate", headers=headers).status_code == 200


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root reading the file; "
    "test_database_fault_gives_500_json_then_recovers covers the same path",
)
def test_unreadable_database_file_gives_500_then_recovers(app: Flask, db_path: Path) -> None:
    client, headers, _ = _token_then_break(app, str(db_path))
    db_path.chmod(0)
    try:
        response = client.get("/users/authenticate", headers=headers)
        assert response.status_code == 500
        assert response.json == {"error": "internal server error"}
        assert client.get("/ready").status_code == 503
    finally:
        db_path.chmod(0o644)
    assert client.get("/users/authenticate", headers=headers).status_code == 200
    assert client.get("/ready").status_code == 200


def test_demo_user_is_created_once(make_app: Callable[..., Flask], db_path: Path) -> None:
    demo = {"DEMO_USERNAME": "testuser", "DEMO_PASSWORD": "testpass"}
    make_app(**demo)
    auth = AuthActions(make_app(**demo).test_client())
    assert auth.login("testuser", "testpass").status_code == 200
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)


@pytest.mark.parametrize(
    "demo",
    [
        pytest.param({"DEMO_USERNAME": "testuser"}, id="username-only"),
        pytest.param({"DEMO_PASSWORD": "testpass"}, id="password-only"),
    ],
)
def test_demo_user_needs_both_settings(
    make_app: Callable[..., Flask], db_path: Path, demo: dict[str, str]
) -> None:
    make_app(**demo)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_concurrent_startups_are_safe(make_app: Callable[..., Flask], db_path: Path) -> None:
    # Like several gunicorn workers booting against one fresh file at the same moment.
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def boot() -> None:
        barrier.wait()
        try:
            make_app(DEMO_USERNAME="testuser", DEMO_PASSWORD="testpass")
        except Exception as exc:  # noqa: BLE001 - reported below, in the test thread
            failures.append(exc)

    threads = [threading.Thread(target=boot) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

"""Failed-login throttling: 429 with Retry-After per account and per client, shared, bounded."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from user_helpers import AuthActions
from user_service import throttle

WINDOW = 900


@pytest.fixture
def guarded(make_app: Callable[..., Flask]) -> Flask:
    """Function scope: an app whose limits are small enough to reach in a test."""
    return make_app(
        LOGIN_FAILURES_PER_ACCOUNT=3, LOGIN_FAILURES_PER_CLIENT=5, LOGIN_FAILURE_WINDOW_SECONDS=WINDOW
    )


def client_at(app: Flask, address: str) -> AuthActions:
    """AuthActions for a client connecting from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


def test_defaults_are_far_above_what_a_test_suite_does(app: Flask) -> None:
    assert app.config["LOGIN_FAILURES_PER_ACCOUNT"] == 10
    assert app.config["LOGIN_FAILURES_PER_CLIENT"] == 1000
    assert app.config["LOGIN_FAILURE_WINDOW_SECONDS"] == WINDOW


def test_account_is_refused_with_429_after_its_limit_even_with_the_right_password(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        assert auth.login("alice", "wrong-password").status_code == 401
    started = time.time()
    response = auth.login("alice", "s3cret-pass")
    assert response.status_code == 429
    assert response.is_json
    assert "too many failed logins" in response.json["error"]  # type: ignore[index]
    retry_after = int(response.headers["Retry-After"])
    # The window started at the first failure, a moment before `started`.
    assert WINDOW - (time.time() - started) - 5 <= retry_after <= WINDOW


def test_the_block_is_per_account(guarded: Flask) -> None:
    mallory = client_at(guarded, "10.0.0.1")
    alice = client_at(guarded, "10.0.0.2")
    alice.register("alice", "s3cret-pass")
    alice.register("bob", "s3cret-pass")
    for _ in range(3):
        mallory.login("alice", "guess-guess")
    assert alice.login("alice", "s3cret-pass").status_code == 429
    assert alice.login("bob", "s3cret-pass").status_code == 200


def test_a_success_before_the_limit_starts_the_account_afresh(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(2):
        auth.login("alice", "wrong-password")
    assert auth.login("alice", "s3cret-pass").status_code == 200
    for _ in range(2):
        assert auth.login("alice", "wrong-password").status_code == 401
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_client_is_refused_after_failing_across_many_accounts(guarded: Flask) -> None:
    sprayer = client_at(guarded, "10.0.0.9")
    sprayer.register("alice", "s3cret-pass")
    for number in range(5):
        assert sprayer.login(f"user{number}", "password1").status_code == 401
    assert sprayer.login("alice", "s3cret-pass").status_code == 429
    assert client_at(guarded, "10.0.0.10").login("alice", "s3cret-pass").status_code == 200


def test_invalid_requests_do_not_count_as_failed_logins(guarded: Flask) -> None:
    client = guarded.test_client()
    auth = AuthActions(client)
    auth.register("alice", "s3cret-pass")
    for _ in range(10):
        assert client.post("/auth/token", json={"username": "alice"}).status_code == 400
        assert client.post("/auth/token", data="{", content_type="application/json").status_code == 400
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_the_block_lifts_when_the_window_ends(guarded: Flask, db_path: Path) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        auth.login("alice", "wrong-password")
    assert auth.login("alice", "s3cret-pass").status_code == 429
    with sqlite3.connect(db_path) as conn:  # as if the window had passed
        conn.execute("UPDATE login_failures SET window_start = window_start - ?", (WINDOW,))
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_state_is_shared_by_every_process_on_the_database(make_app: Callable[..., Flask]) -> None:
    # Two apps on one file, as two gunicorn workers are.
    limits = {"LOGIN_FAILURES_PER_ACCOUNT": 2}
    first, second = client_at(make_app(**limits), "10.0.0.1"), client_at(make_app(**limits), "10.0.0.2")
    first.register("alice", "s3cret-pass")
    first.login("alice", "wrong-password")
    second.login("alice", "wrong-password")
    assert first.login("alice", "s3cret-pass").status_code == 429
    assert second.login("alice", "s3cret-pass").status_code == 429


def test_the_table_stays_bounded(app: Flask, db_path: Path) -> None:
    now = time.time()
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO login_failures (key, failures, window_start) VALUES (?, 1, ?)",
            [(f"account:spray{i}", now - 60 + i / 1e6) for i in range(throttle.MAX_KEYS + 50)],
        )
        conn.execute("INSERT INTO login_failures VALUES ('account:stale', 9, ?)", (now - 2 * WINDOW,))
    with app.test_request_context():
        throttle.record_failure(throttle.keys_for("alice", "10.0.0.1"), now=now)
    with sqlite3.connect(db_path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM login_failures").fetchone()
        kept = {key for (key,) in conn.execute("SELECT key FROM login_failures")}
    assert count == throttle.MAX_KEYS
    assert {"account:alice", "client:10.0.0.1"} <= kept  # the newest stay
    assert "account:stale" not in kept  # expired rows go first
    assert "account:spray0" not in kept  # then the oldest


def test_a_429_costs_no_password_hash(guarded: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        auth.login("alice", "wrong-password")
    from user_service import passwords

    def no_hashing(*_args: object) -> bool:
        raise AssertionError("a blocked login must not hash")

    monkeypatch.setattr(passwords, "verify_password", no_hashing)
    monkeypatch.setattr(passwords, "burn_time", no_hashing)
    assert auth.login("alice", "s3cret-pass").status_code == 429


def test_unknown_accounts_are_throttled_like_known_ones(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    for _ in range(3):
        assert auth.login("nobody", "password1").status_code == 401
    assert auth.login("nobody", "password1").status_code == 429


def test_429_is_documented_with_retry_after(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").json["paths"]["/auth/token"]["post"]  # type: ignore[index]
    assert "Retry-After" in operation["responses"]["429"]["headers"]

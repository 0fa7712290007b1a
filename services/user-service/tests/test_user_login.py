"""Login (/auth/token) at its edges: exactly at a limit and one past it, the exact answers
(status, body, Retry-After), the device cookie it sets, hash upgrades and busy hashing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from user_helpers import SECRET, WINDOW, AuthActions, client_at
from user_service import device, passwords, tokens
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.test import TestResponse

BAD_CREDENTIALS = {"error": "invalid username or password"}
BUSY = {"error": "the service is busy hashing passwords; try again shortly"}


def stored_hash(db_path: Path, username: str) -> str:
    with sqlite3.connect(db_path) as conn:
        return str(
            conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()[0]
        )


def add_user(db_path: Path, username: str, password_hash: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO users (username, password_hash) VALUES (?, ?)", (username, password_hash))


def assert_refused(response: TestResponse) -> int:
    """A 429 for too many failed logins: its wait is in the body and in Retry-After alike."""
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert WINDOW - 60 <= retry_after <= WINDOW  # a minute of slack for a loaded machine
    assert response.json == {"error": f"too many failed logins; try again in {retry_after} seconds"}
    return retry_after


def assert_bad_credentials(response: TestResponse) -> None:
    assert response.status_code == 401
    assert response.json == BAD_CREDENTIALS
    assert response.headers["WWW-Authenticate"] == "Bearer"


def records(log_lines: Callable[[], list[dict[str, Any]]], message: str) -> list[dict[str, Any]]:
    return [line for line in log_lines() if line.get("msg") == message]


def test_exactly_the_accounts_limit_of_failures_is_answered_then_one_more_is_refused(
    guarded: Flask, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        assert_bad_credentials(auth.login("alice", "wrong-password"))
    log_lines()  # what came before
    retry_after = assert_refused(auth.login("alice", "s3cret-pass"))
    [refused] = records(log_lines, "login refused: too many failed logins")
    assert refused["retry_after"] == retry_after
    assert refused["level"] == "WARNING"


def test_one_failure_under_the_limit_the_right_password_still_passes(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(2):
        assert_bad_credentials(auth.login("alice", "wrong-password"))
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_the_clients_limit_refuses_unknown_names_too_from_exactly_its_count(guarded: Flask) -> None:
    for number in range(5):
        client_at(guarded, f"10.9.0.{number}").register(f"user{number}", "s3cret-pass")
    sprayer = client_at(guarded, "10.0.0.1")
    for number in range(4):
        assert_bad_credentials(sprayer.login(f"user{number}", "password1"))
    assert_bad_credentials(sprayer.login("nobody", "password1"))  # 4 counted: under the bound
    assert_bad_credentials(sprayer.login("user4", "password1"))  # the 5th: at the bound
    assert_refused(sprayer.login("nobody", "password1"))
    assert_refused(sprayer.login("user4", "s3cret-pass"))


def test_login_applies_no_sign_up_rules_to_what_it_is_given(auth: AuthActions) -> None:
    """A name or password sign-up would refuse can't be an account's: the same 401, not a 400."""
    auth.register("alice", "s3cret-pass")
    assert_bad_credentials(auth.login("a b", "s3cret-pass"))
    assert_bad_credentials(auth.login("al", "s3cret-pass"))
    assert_bad_credentials(auth.login("alice", "short"))


def test_a_successful_login_answers_with_its_token_and_a_device_cookie(
    make_app: Callable[..., Flask], db_path: Path
) -> None:
    app = make_app(DEVICE_COOKIE_TTL_SECONDS=600, TOKEN_TTL_SECONDS=120)
    auth = client_at(app, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    before = int(time.time())
    response = auth.login("alice", "s3cret-pass")
    after = int(time.time())
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 120
    claims = tokens.verify(body["access_token"], SECRET, app.config["TOKEN_AUDIENCE"])
    assert (claims.user_id, claims.username) == (1, "alice")
    [cookie] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{device.COOKIE}=")]
    value, *attributes = [part.strip() for part in cookie.split(";")]
    value = value.removeprefix(f"{device.COOKIE}=")
    assert {"HttpOnly", "Max-Age=600", "Path=/auth", "SameSite=Strict"} <= set(attributes)
    account, expires, _ = value.split(".")
    assert account == "1"
    assert before + 600 <= int(expires) <= after + 600
    assert device.recognises(value, 1, SECRET)
    assert not device.recognises(value, 1, SECRET, now=int(expires))


def test_a_legacy_hash_is_upgraded_at_a_successful_login(
    make_app: Callable[..., Flask], db_path: Path
) -> None:
    app = make_app()
    add_user(db_path, "alice", generate_password_hash("s3cret-pass", method="pbkdf2:sha256:1000"))
    assert client_at(app, "10.0.0.1").login("alice", "s3cret-pass").status_code == 200
    upgraded = stored_hash(db_path, "alice")
    assert upgraded.startswith("$argon2id$")
    assert passwords.verify_password(upgraded, "s3cret-pass")
    assert client_at(app, "10.0.0.1").login("alice", "s3cret-pass").status_code == 200


def test_a_hash_upgrade_waits_for_a_slot_no_longer_than_configured_then_the_login_passes(
    make_app: Callable[..., Flask],
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    """Every slot is taken between the check and the upgrade: the login passes, the old hash stays."""
    wait, margin = 0.05, 0.5  # the default wait (1 s) is past wait + margin
    app = make_app(HASH_WAIT_SECONDS=wait)
    legacy = generate_password_hash("s3cret-pass", method="pbkdf2:sha256:1000")
    add_user(db_path, "alice", legacy)
    slots = threading.BoundedSemaphore(passwords.MAX_CONCURRENT_HASHES)
    monkeypatch.setattr(passwords, "_slots", slots)
    taken = threading.Event()
    needs_rehash = passwords.needs_rehash

    def take_every_slot_first(password_hash: str) -> bool:
        for _ in range(passwords.MAX_CONCURRENT_HASHES):
            slots.acquire()
        taken.set()
        return needs_rehash(password_hash)

    monkeypatch.setattr(passwords, "needs_rehash", take_every_slot_first)
    answered: list[tuple[TestResponse, float]] = []
    auth = client_at(app, "10.0.0.1")
    log_lines()
    started = time.monotonic()
    login = threading.Thread(
        target=lambda: answered.append((auth.login("alice", "s3cret-pass"), time.monotonic()))
    )
    login.start()
    login.join(wait + margin)
    if taken.is_set():  # lets a login that would wait for ever finish: a failure below
        for _ in range(passwords.MAX_CONCURRENT_HASHES):
            slots.release()
    login.join()
    [(response, finished)] = answered
    assert response.status_code == 200
    assert finished - started < wait + margin
    assert stored_hash(db_path, "alice") == legacy
    assert check_password_hash(legacy, "s3cret-pass")
    [skipped] = records(log_lines, "password hash upgrade skipped: no hash slot came free")
    assert skipped["level"] == "INFO"


@pytest.fixture
def places_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Function scope: every hashing place held, as by threads hashing and waiting."""
    places = threading.BoundedSemaphore(passwords.MAX_HASHING_THREADS)
    monkeypatch.setattr(passwords, "_places", places)
    for _ in range(passwords.MAX_HASHING_THREADS):
        places.acquire()


def test_no_hashing_place_is_a_busy_503_with_retry_after_1(
    app: Flask, places_taken: None, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    log_lines()
    response = client_at(app, "10.0.0.1").login("alice", "s3cret-pass")
    assert response.status_code == 503
    assert response.json == BUSY
    assert response.headers["Retry-After"] == "1"
    [busy] = records(log_lines, "refused: every hash slot is taken")
    assert busy["path"] == "/auth/token"
    assert busy["level"] == "WARNING"


@pytest.fixture
def place_held_by_10_0_0_1() -> Iterator[None]:
    """Function scope: client 10.0.0.1 holds its share of hashing places (another thread, as a request)."""
    entered, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with passwords.admission("10.0.0.1"):
            entered.set()
            leave.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(10)
    yield
    leave.set()
    holder.join()


def test_a_client_holding_its_share_of_places_is_busy_another_is_not(
    app: Flask, place_held_by_10_0_0_1: None
) -> None:
    client_at(app, "10.0.0.2").register("alice", "s3cret-pass")
    response = client_at(app, "10.0.0.1").login("alice", "s3cret-pass")
    assert response.status_code == 503
    assert response.json == BUSY
    assert client_at(app, "10.0.0.2").login("alice", "s3cret-pass").status_code == 200

"""Sign-up: throttled per client, never waiting long for a hash slot, and no drag on the token check."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from user_helpers import AuthActions, client_at
from user_service import passwords
from werkzeug.security import generate_password_hash

WAIT = 0.2  # HASH_WAIT_SECONDS for these tests
MARGIN = 1.0  # seconds of slack for a loaded machine, on top of a configured wait


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> Flask:
    """Function scope: an app allowing 3 sign-ups per client, waiting WAIT s for a hash slot."""
    return make_app(SIGNUPS_PER_CLIENT=3, HASH_WAIT_SECONDS=WAIT)


@pytest.fixture
def slots_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Function scope: both hash slots held, as by two long hashes."""
    slots = threading.BoundedSemaphore(passwords.MAX_CONCURRENT_HASHES)
    monkeypatch.setattr(passwords, "_slots", slots)
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        slots.acquire()
    yield
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        slots.release()


@pytest.fixture
def places_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Function scope: every hashing place held, as by threads hashing and waiting."""
    places = threading.BoundedSemaphore(passwords.MAX_HASHING_THREADS)
    monkeypatch.setattr(passwords, "_places", places)
    for _ in range(passwords.MAX_HASHING_THREADS):
        places.acquire()


def test_defaults(app: Flask) -> None:
    assert app.config["SIGNUPS_PER_CLIENT"] == 1000
    assert app.config["SIGNUP_CONFLICTS_PER_CLIENT"] == 100
    assert app.config["HASH_WAIT_SECONDS"] == passwords.HASH_WAIT_SECONDS == 1.0


def test_sign_ups_are_limited_per_client_409s_included(limited: Flask) -> None:
    prober = client_at(limited, "10.0.0.1")
    assert prober.register("alice").status_code == 201
    assert prober.register("alice").status_code == 409  # says the name exists: counted too
    assert prober.register("bob").status_code == 201
    refused = prober.register("carol")
    assert refused.status_code == 429
    assert refused.is_json
    assert "too many sign-ups" in refused.json["error"]  # type: ignore[index]
    assert 1 <= int(refused.headers["Retry-After"]) <= 900
    assert prober.register("alice").status_code == 429  # no more probing either
    assert client_at(limited, "10.0.0.2").register("carol").status_code == 201


def test_names_found_taken_are_limited_per_client(make_app: Callable[..., Flask]) -> None:
    """Issue 24, 5: a 409 says a name exists; one client may learn that SIGNUP_CONFLICTS_PER_CLIENT times."""
    app = make_app(SIGNUP_CONFLICTS_PER_CLIENT=2)
    prober = client_at(app, "10.0.0.1")
    assert prober.register("alice").status_code == 201
    assert prober.register("ALICE").status_code == 409
    assert prober.register("alice").status_code == 409
    refused = prober.register("bob")  # refused before its name is looked at: tells nothing
    assert refused.status_code == 429
    assert "too many sign-ups" in refused.json["error"]  # type: ignore[index]
    assert client_at(app, "10.0.0.2").register("bob").status_code == 201


def test_an_ipv6_64_is_one_sign_up_client(limited: Flask) -> None:
    for number in range(3):
        assert client_at(limited, f"2001:db8::{number + 1}").register(f"user{number}").status_code == 201
    assert client_at(limited, "2001:db8::99").register("user9").status_code == 429


def test_invalid_sign_ups_do_not_count(limited: Flask) -> None:
    auth = client_at(limited, "10.0.0.1")
    for _ in range(5):
        assert auth.register("a", "short").status_code == 400
    assert auth.register("alice").status_code == 201


def test_no_hash_slot_within_the_wait_is_a_503_and_costs_no_count(limited: Flask, slots_taken: None) -> None:
    auth = client_at(limited, "10.0.0.1")
    for _ in range(4):  # over the limit of 3 if these counted
        started = time.monotonic()
        response = auth.register("alice")
        assert WAIT <= time.monotonic() - started < WAIT + MARGIN
        assert response.status_code == 503
        assert response.is_json
        assert "busy" in response.json["error"]  # type: ignore[index]
        assert response.headers["Retry-After"] == "1"


def test_no_hashing_place_is_a_503_at_once(limited: Flask, places_taken: None) -> None:
    auth = client_at(limited, "10.0.0.1")
    started = time.monotonic()
    assert auth.register("alice").status_code == 503
    assert auth.login("alice").status_code == 503  # logins hash too
    assert time.monotonic() - started < WAIT  # turned away without waiting


def test_a_busy_login_costs_no_count(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(LOGIN_FAILURES_PER_ACCOUNT=2, HASH_WAIT_SECONDS=WAIT)
    auth = client_at(app, "10.0.0.1")
    auth.register("alice")
    slots = threading.BoundedSemaphore(passwords.MAX_CONCURRENT_HASHES)
    monkeypatch.setattr(passwords, "_slots", slots)
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        slots.acquire()
    for _ in range(3):
        assert auth.login("alice", "wrong-password").status_code == 503
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        slots.release()
    assert auth.login("alice").status_code == 200


def test_the_token_check_never_waits_on_hashing(
    app: Flask, auth: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every hash slot and hashing place taken: /users/authenticate still answers at once."""
    headers = auth.bearer(auth.token())
    monkeypatch.setattr(passwords, "_slots", threading.BoundedSemaphore(passwords.MAX_CONCURRENT_HASHES))
    monkeypatch.setattr(passwords, "_places", threading.BoundedSemaphore(passwords.MAX_HASHING_THREADS))
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        passwords._slots.acquire()
    for _ in range(passwords.MAX_HASHING_THREADS):
        passwords._places.acquire()
    started = time.monotonic()
    response = app.test_client().get("/users/authenticate", headers=headers)
    assert response.status_code == 200
    assert time.monotonic() - started < float(app.config["HASH_WAIT_SECONDS"])


def test_sign_up_documents_its_429_and_503(app: Flask) -> None:
    operation = app.test_client().get("/openapi.json").json["paths"]["/users"]["post"]  # type: ignore[index]
    for status in ("429", "503"):
        assert "Retry-After" in operation["responses"][status]["headers"]


@pytest.mark.parametrize("account", ["current", "legacy", "unknown"])
def test_a_login_waits_for_a_slot_no_longer_than_configured(
    make_app: Callable[..., Flask], db_path: Path, slots_taken: None, account: str
) -> None:
    """Whatever the account's hash (or none), a login waits HASH_WAIT_SECONDS for a slot, then 503."""
    wait, margin = 0.1, 0.5  # the default wait (1 s) is well past wait + margin
    app = make_app(HASH_WAIT_SECONDS=wait)
    with sqlite3.connect(db_path) as conn:
        stored = (
            generate_password_hash("s3cret-pass", method="scrypt")
            if account == "legacy"
            else "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
        )
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('alice', ?)", (stored,))
    started = time.monotonic()
    response = client_at(app, "10.0.0.1").login("alice" if account != "unknown" else "nobody")
    assert response.status_code == 503
    assert wait <= time.monotonic() - started < wait + margin

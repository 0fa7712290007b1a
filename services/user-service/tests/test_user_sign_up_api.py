"""Sign-up (POST /users) and the token check (GET /users/authenticate) at their edges:
exactly at a limit and one past it, and the exact answers (status, body, headers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from user_helpers import SECRET, WINDOW, AuthActions, client_at
from user_service import passwords, tokens
from werkzeug.test import TestResponse

CHALLENGE = 'Bearer realm="user-service"'
INVALID_CHALLENGE = 'Bearer realm="user-service", error="invalid_token"'
TAKEN = {"error": "username is already taken", "field": "username"}
MALFORMED = "Authorization header must be 'Bearer <token>'"


def assert_sign_up_refused(response: TestResponse) -> int:
    """A 429 for too many sign-ups: its wait is in the body and in Retry-After alike."""
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert WINDOW - 60 <= retry_after <= WINDOW  # a minute of slack for a loaded machine
    assert response.json == {
        "error": f"too many sign-ups from this client; try again in {retry_after} seconds"
    }
    return retry_after


def test_a_sign_up_is_201_with_the_id_and_the_name_as_stored(client: FlaskClient) -> None:
    response = client.post("/users", json={"username": "\uff21lice", "password": "s3cret-pass"})
    assert response.status_code == 201
    assert response.json == {"id": 1, "username": "Alice"}  # full-width letters in their compatibility form


def test_exactly_the_sign_up_limit_passes_then_one_more_is_refused(
    make_app: Callable[..., Flask], log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    app = make_app(SIGNUPS_PER_CLIENT=2, LOGIN_FAILURE_WINDOW_SECONDS=WINDOW)
    auth = client_at(app, "10.0.0.1")
    assert auth.register("alice").status_code == 201
    assert auth.register("bob").status_code == 201
    log_lines()
    retry_after = assert_sign_up_refused(auth.register("carol"))
    [refused] = [line for line in log_lines() if line.get("msg") == "sign-up refused: too many sign-ups"]
    assert refused["retry_after"] == retry_after
    assert refused["level"] == "WARNING"
    assert client_at(app, "10.0.0.2").register("carol").status_code == 201


def test_exactly_the_conflict_limit_is_answered_409_then_sign_ups_are_refused(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(SIGNUP_CONFLICTS_PER_CLIENT=2, LOGIN_FAILURE_WINDOW_SECONDS=WINDOW)
    prober = client_at(app, "10.0.0.1")
    assert prober.register("alice").status_code == 201
    for name in ("alice", "ALICE"):
        taken = prober.register(name)
        assert taken.status_code == 409
        assert taken.json == TAKEN
    assert_sign_up_refused(prober.register("bob"))
    assert client_at(app, "10.0.0.2").register("bob").status_code == 201


def test_new_names_do_not_count_as_conflicts(make_app: Callable[..., Flask]) -> None:
    app = make_app(SIGNUP_CONFLICTS_PER_CLIENT=1)
    auth = client_at(app, "10.0.0.1")
    for name in ("alice", "bob", "carol"):
        assert auth.register(name).status_code == 201
    assert auth.register("alice").json == TAKEN
    assert_sign_up_refused(auth.register("dave"))


def test_a_sign_up_without_a_hash_slot_is_503_and_costs_no_count(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    wait, margin = 0.05, 0.5  # the default wait (1 s) is past wait + margin
    app = make_app(SIGNUPS_PER_CLIENT=1, HASH_WAIT_SECONDS=wait)
    auth = client_at(app, "10.0.0.1")
    slots = threading.BoundedSemaphore(passwords.MAX_CONCURRENT_HASHES)
    monkeypatch.setattr(passwords, "_slots", slots)
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        slots.acquire()
    for _ in range(2):  # past the limit of 1 if these counted
        started = time.monotonic()
        busy = auth.register("alice")
        assert wait <= time.monotonic() - started < wait + margin
        assert busy.status_code == 503
        assert busy.json == {"error": "the service is busy hashing passwords; try again shortly"}
        assert busy.headers["Retry-After"] == "1"
    for _ in range(passwords.MAX_CONCURRENT_HASHES):
        slots.release()
    assert auth.register("alice").status_code == 201


# --- GET /users/authenticate ---------------------------------------------------------------


def authenticate(app: Flask, headers: dict[str, str]) -> TestResponse:
    return app.test_client().get("/users/authenticate", headers=headers)


def test_no_authorization_header_gets_the_bare_challenge(app: Flask) -> None:
    for headers in ({}, {"Authorization": ""}):
        response = authenticate(app, headers)
        assert response.status_code == 401
        assert response.json == {"error": "missing Authorization header"}
        assert response.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic {token}", id="other-scheme"),
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer    ", id="blank-token"),
        pytest.param("Bearer {token} {token}", id="two-tokens"),
        pytest.param("{token}", id="no-scheme"),
    ],
)
def test_a_malformed_authorization_header_gets_the_invalid_token_challenge(
    app: Flask, auth: AuthActions, header: str
) -> None:
    token = auth.token()
    response = authenticate(app, {"Authorization": header.format(token=token)})
    assert response.status_code == 401
    assert response.json == {"error": MALFORMED}
    assert response.headers["WWW-Authenticate"] == INVALID_CHALLENGE


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("BEARER {token}", id="upper-case-scheme"),
        pytest.param("Bearer   {token}", id="several-spaces"),  # RFC 6750: "Bearer" 1*SP b64token
        pytest.param("Bearer {token} ", id="trailing-space"),
    ],
)
def test_a_well_formed_authorization_header_passes(app: Flask, auth: AuthActions, header: str) -> None:
    token = auth.token()
    response = authenticate(app, {"Authorization": header.format(token=token)})
    assert response.status_code == 200
    assert response.json == {"user_id": 1, "username": "alice", "message": "Authenticated"}


def test_an_invalid_token_says_why_with_the_invalid_token_challenge(app: Flask) -> None:
    response = authenticate(app, {"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert response.json == {"error": "token is invalid"}
    assert response.headers["WWW-Authenticate"] == INVALID_CHALLENGE


def test_a_token_for_a_user_that_is_gone_gets_the_invalid_token_challenge(app: Flask) -> None:
    token = tokens.issue(7, "ghost", SECRET, 60, app.config["TOKEN_AUDIENCE"])
    response = authenticate(app, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json == {"error": "user no longer exists"}
    assert response.headers["WWW-Authenticate"] == INVALID_CHALLENGE


def test_a_token_naming_another_account_is_refused(app: Flask, auth: AuthActions) -> None:
    auth.register("alice")
    token = tokens.issue(1, "mallory", SECRET, 60, app.config["TOKEN_AUDIENCE"])
    response = authenticate(app, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json == {"error": "token does not match its account"}
    assert response.headers["WWW-Authenticate"] == INVALID_CHALLENGE

"""Sign-up, login and token verification through the HTTP API."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from servicekit import MAX_CONTENT_LENGTH, http
from user_helpers import SECRET, AuthActions, post_chunked
from user_service import tokens
from werkzeug.test import EnvironBuilder, run_wsgi_app


def test_create_user_returns_201_with_id_and_username(auth: AuthActions) -> None:
    response = auth.register("alice", "s3cret-pass")
    assert response.status_code == 201
    assert response.json == {"id": 1, "username": "alice"}


def test_duplicate_username_is_409_naming_the_field(auth: AuthActions) -> None:
    auth.register("alice")
    response = auth.register("alice", "another-pass")
    assert response.status_code == 409
    assert response.json == {"error": "username is already taken", "field": "username"}


def test_password_is_stored_hashed(auth: AuthActions, app: Flask, db_path: Path) -> None:
    auth.register("alice", "s3cret-pass")
    with sqlite3.connect(db_path) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert "s3cret-pass" not in stored
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"password": "s3cret-pass"}, "username", id="username-missing"),
        pytest.param(
            {"username": None, "password": "s3cret-pass"},
            "username",
            id="username-null",
        ),
        pytest.param({"username": 42, "password": "s3cret-pass"}, "username", id="username-int"),
        pytest.param({"username": "", "password": "s3cret-pass"}, "username", id="username-empty"),
        pytest.param(
            {"username": "ab", "password": "s3cret-pass"},
            "username",
            id="username-short",
        ),
        pytest.param(
            {"username": "a" * 65, "password": "s3cret-pass"},
            "username",
            id="username-long",
        ),
        pytest.param(
            {"username": "bad name", "password": "s3cret-pass"},
            "username",
            id="username-space",
        ),
        pytest.param({"username": "alice"}, "password", id="password-missing"),
        pytest.param({"username": "alice", "password": ["x"]}, "password", id="password-list"),
        pytest.param({"username": "alice", "password": ""}, "password", id="password-empty"),
        pytest.param(
            {"username": "alice", "password": "7chars!"},
            "password",
            id="password-short",
        ),
        pytest.param({"username": "alice", "password": "x" * 257}, "password", id="password-long"),
    ],
)
def test_create_user_rejects_invalid_fields(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/users", json=body)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["field"] == field
    assert field in response.json["error"]


NO_NAME, LONG_NAME = "username must not be empty", "username must be at most 64 characters"
PATTERN_RULE = "username must be 3-64 characters of letters, digits, '_', '.' or '-'"
NO_PASSWORD, LENGTH_RULE = "password must not be empty", "password must be 8-256 characters long"


@pytest.mark.parametrize(
    ("path", "username", "password", "field", "error"),
    [
        pytest.param("/users", "", "s3cret-pass", "username", NO_NAME, id="sign-up-no-name"),
        pytest.param("/users", "a" * 65, "s3cret-pass", "username", LONG_NAME, id="sign-up-65"),
        pytest.param("/users", "ab", "s3cret-pass", "username", PATTERN_RULE, id="sign-up-2"),
        pytest.param("/users", "bad name", "s3cret-pass", "username", PATTERN_RULE, id="sign-up-space"),
        pytest.param("/users", "alice", "", "password", NO_PASSWORD, id="sign-up-no-password"),
        pytest.param("/users", "alice", "7chars!", "password", LENGTH_RULE, id="sign-up-7"),
        pytest.param("/users", "alice", "x" * 257, "password", LENGTH_RULE, id="sign-up-257"),
        pytest.param("/auth/token", "", "s3cret-pass", "username", NO_NAME, id="login-no-name"),
        pytest.param("/auth/token", "a" * 65, "x", "username", LONG_NAME, id="login-65"),
        pytest.param("/auth/token", "alice", "", "password", NO_PASSWORD, id="login-no-password"),
        pytest.param("/auth/token", "alice", "x" * 257, "password", LENGTH_RULE, id="login-257"),
    ],
)
def test_credentials_refusals_name_the_field_and_the_rule(
    client: FlaskClient, path: str, username: str, password: str, field: str, error: str
) -> None:
    """The 400 names the field and the rule it broke, word for word."""
    response = client.post(path, json={"username": username, "password": password})
    assert response.status_code == 400
    assert response.json == {"error": error, "field": field}


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("abc", "8chars!!", id="minimum-lengths"),
        pytest.param("a" * 64, "x" * 256, id="maximum-lengths"),
        pytest.param("john.doe_1-x", "testpass", id="allowed-punctuation"),
    ],
)
def test_create_user_accepts_boundary_values(auth: AuthActions, username: str, password: str) -> None:
    assert auth.register(username, password).status_code == 201


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        pytest.param(
            {"data": "{not json", "content_type": "application/json"},
            400,
            "not valid JSON",
            id="malformed",
        ),
        pytest.param(
            {"data": "[1, 2]", "content_type": "application/json"},
            400,
            "JSON object",
            id="array",
        ),
        pytest.param(
            {"data": '"text"', "content_type": "application/json"},
            400,
            "JSON object",
            id="string",
        ),
        pytest.param({"data": "", "content_type": "application/json"}, 400, "empty", id="empty"),
        pytest.param(
            {"data": '{"username": NaN}', "content_type": "application/json"},
            400,
            "NaN",
            id="nan",
        ),
        pytest.param(
            {"data": b'{"username": "\xff"}', "content_type": "application/json"},
            400,
            "not valid JSON",
            id="bad-utf8",
        ),
        pytest.param(
            {"data": "[" * 100_000, "content_type": "application/json"},
            400,
            "not valid JSON",
            id="deep-nesting",
        ),
        pytest.param(
            {"data": '{"username": "alice"}', "content_type": "text/plain"},
            415,
            "application/json",
            id="wrong-content-type",
        ),
        pytest.param(
            {"data": '{"username": "alice"}'},
            415,
            "application/json",
            id="no-content-type",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/users", "/auth/token"])
def test_bad_bodies_get_json_errors(
    client: FlaskClient, path: str, kwargs: dict[str, Any], status: int, needle: str
) -> None:
    response = client.post(path, **kwargs)
    assert response.status_code == status
    assert response.is_json
    assert needle in response.json["error"]  # type: ignore[index]


EMPTY_BODY = "request body is empty; expected a JSON object"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param("", EMPTY_BODY, id="empty"),
        pytest.param(" \r\n\t", EMPTY_BODY, id="only-whitespace"),
        pytest.param("[1, 2]", "request body must be a JSON object, not list", id="array"),
        pytest.param('"text"', "request body must be a JSON object, not str", id="string"),
        pytest.param("null", "request body must be a JSON object, not NoneType", id="null"),
    ],
)
@pytest.mark.parametrize("path", ["/users", "/auth/token"])
def test_a_body_that_is_no_object_gets_400_saying_what_it_is(
    client: FlaskClient, path: str, data: str, error: str
) -> None:
    response = client.post(path, data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"error": error}


def test_oversized_body_is_413_json(client: FlaskClient) -> None:
    payload = '{"username": "' + "a" * (1024 * 1024) + '"}'
    response = client.post("/users", data=payload, content_type="application/json")
    assert response.status_code == 413
    assert response.is_json
    assert "error" in response.json  # type: ignore[operator]


def body_of_size(size: int, username: str) -> bytes:
    """A valid sign-up body padded with JSON whitespace to exactly `size` bytes."""
    body = json.dumps({"username": username, "password": "s3cret-pass"}).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("extra", "status"),
    [pytest.param(0, 201, id="exactly-the-limit"), pytest.param(1, 413, id="one-byte-over")],
)
def test_the_body_limit_is_exactly_max_content_length(
    client: FlaskClient, chunked: bool, extra: int, status: int
) -> None:
    body = body_of_size(MAX_CONTENT_LENGTH + extra, "alice")
    assert len(body) == 1024 * 1024 + extra  # the documented limit: 1 MiB
    if chunked:
        response = post_chunked(client, "/users", body)
    else:
        response = client.post("/users", data=body, content_type="application/json")
    assert response.status_code == status, response.json
    assert response.is_json
    if status == 413:
        assert response.json == {"error": f"request body is larger than {MAX_CONTENT_LENGTH} bytes"}


def test_login_returns_bearer_token_with_expected_claims(
    make_app: Callable[..., Flask],
) -> None:
    auth = AuthActions(make_app(TOKEN_TTL_SECONDS=120).test_client())
    auth.register("alice", "s3cret-pass")
    before = int(time.time())
    response = auth.login("alice", "s3cret-pass")
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 120
    claims = jwt.decode(
        body["access_token"], SECRET, algorithms=["HS256"], issuer="user-service", audience="microstack"
    )
    assert claims["sub"] == "1"
    assert claims["username"] == "alice"
    assert before <= claims["iat"] <= claims["exp"] - 120 + 1


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("alice", "wrong-password", id="wrong-password"),
        pytest.param("nobody", "s3cret-pass", id="unknown-user"),
        pytest.param("alice", "S3CRET-PASS", id="password-is-case-sensitive"),
    ],
)
def test_bad_credentials_get_the_same_401(auth: AuthActions, username: str, password: str) -> None:
    auth.register("alice", "s3cret-pass")
    response = auth.login(username, password)
    assert response.status_code == 401
    assert response.json == {"error": "invalid username or password"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"password": "x"}, "username", id="username-missing"),
        pytest.param({"username": "alice"}, "password", id="password-missing"),
        pytest.param({"username": "alice", "password": 12345678}, "password", id="password-int"),
        pytest.param({"username": "alice", "password": "x" * 257}, "password", id="password-huge"),
    ],
)
def test_login_rejects_invalid_fields(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/auth/token", json=body)
    assert response.status_code == 400
    assert response.json["field"] == field  # type: ignore[index]


def test_authenticate_accepts_a_fresh_token(auth: AuthActions, client: FlaskClient) -> None:
    token = auth.token("alice")
    response = client.get("/users/authenticate", headers=auth.bearer(token))
    assert response.status_code == 200
    assert response.json == {
        "user_id": 1,
        "username": "alice",
        "message": "Authenticated",
    }


def test_authenticate_accepts_lowercase_scheme(auth: AuthActions, client: FlaskClient) -> None:
    token = auth.token("alice")
    response = client.get("/users/authenticate", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


def _forge(**changes: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "1",
        "username": "alice",
        "iat": now,
        "exp": now + 60,
        "iss": "user-service",
        "aud": "microstack",
    }
    claims.update(changes)
    secret = str(claims.pop("secret", SECRET))
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{header}.{payload}.{flipped}{signature[1:]}"


@pytest.mark.parametrize(
    ("make_header", "needle"),
    [
        pytest.param(lambda t: None, "missing", id="no-header"),
        pytest.param(lambda t: f"Basic {t}", "Bearer", id="wrong-scheme"),
        pytest.param(lambda t: "Bearer", "Bearer", id="no-token"),
        pytest.param(lambda t: "Bearer ", "Bearer", id="blank-token"),
        pytest.param(lambda t: f"Bearer {t} extra", "Bearer", id="two-tokens"),
        pytest.param(lambda t: "Bearer not.a.jwt", "invalid", id="garbage"),
        pytest.param(lambda t: f"Bearer {_tamper(t)}", "invalid", id="tampered-signature"),
        pytest.param(
            lambda t: f"Bearer {_forge(exp=int(time.time()) - 10)}",
            "expired",
            id="expired",
        ),
        pytest.param(
            lambda t: f"Bearer {_forge(secret='another-secret-of-sufficient-length')}",
            "invalid",
            id="wrong-secret",
        ),
        pytest.param(
            lambda t: f"Bearer {_forge(iss='someone-else')}",
            "invalid",
            id="wrong-issuer",
        ),
        pytest.param(
            lambda t: f"Bearer {_forge(username=None)}",
            "invalid",
            id="missing-username",
        ),
        pytest.param(lambda t: f"Bearer {_forge(exp=None)}", "invalid", id="missing-exp"),
        pytest.param(lambda t: f"Bearer {_forge(aud=None)}", "invalid", id="missing-audience"),
        pytest.param(lambda t: f"Bearer {_forge(aud='another-stack')}", "invalid", id="wrong-audience"),
        pytest.param(
            lambda t: f"Bearer {_forge(aud=['another-stack'])}", "invalid", id="wrong-audience-list"
        ),
        pytest.param(
            lambda t: f"Bearer {_forge(username='mallory')}", "does not match", id="username-of-another"
        ),
        pytest.param(
            lambda t: f"Bearer {_forge(username='ALICE')}", "does not match", id="username-case-differs"
        ),
        pytest.param(lambda t: f"Bearer {_forge(sub='abc')}", "invalid", id="non-numeric-sub"),
        pytest.param(
            lambda t: f"Bearer {_forge(sub='999')}",
            "no longer exists",
            id="unknown-user",
        ),
        pytest.param(
            lambda t: (
                "Bearer "
                + jwt.encode(
                    jwt.decode(t, options={"verify_signature": False}),
                    "",  # PyJWT reads "" as no key, as the none algorithm needs
                    algorithm="none",
                )
            ),
            "invalid",
            id="alg-none",
        ),
    ],
)
def test_authenticate_rejects_bad_tokens_with_401(
    auth: AuthActions,
    client: FlaskClient,
    make_header: Callable[[str], str | None],
    needle: str,
) -> None:
    header = make_header(auth.token("alice"))
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/users/authenticate", headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert needle in response.json["error"]  # type: ignore[index]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="user-service"')


def test_deleted_user_token_stops_working(auth: AuthActions, client: FlaskClient, db_path: Path) -> None:
    token = auth.token("alice")
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM users WHERE username = 'alice'")
    response = client.get("/users/authenticate", headers=auth.bearer(token))
    assert response.status_code == 401
    assert response.json == {"error": "user no longer exists"}


def test_users_survive_an_app_restart(make_app: Callable[..., Flask]) -> None:
    AuthActions(make_app().test_client()).register("alice", "s3cret-pass")
    restarted = AuthActions(make_app().test_client())
    assert restarted.login("alice", "s3cret-pass").status_code == 200


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(lambda: _forge(exp=int(time.time()) - 10), "token has expired", id="expired"),
        pytest.param(lambda: "not.a.jwt", "token is invalid", id="garbage"),
        pytest.param(lambda: _forge(sub="abc"), "token is invalid", id="non-numeric-sub"),
        pytest.param(lambda: _forge(sub=str(tokens.MAX_USER_ID + 1)), "token is invalid", id="sub-past-max"),
        pytest.param(lambda: _forge(sub="0" * 19 + "1"), "token is invalid", id="sub-of-20-digits"),
    ],
)
def test_token_errors_say_exactly_why(token: Callable[[], str], reason: str) -> None:
    with pytest.raises(tokens.InvalidTokenError) as refused:
        tokens.verify(token(), SECRET, "microstack")
    assert str(refused.value) == reason


def test_the_largest_user_id_sqlite_holds_is_a_valid_sub() -> None:
    token = tokens.issue(tokens.MAX_USER_ID, "alice", SECRET, 60, "microstack")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert tokens.verify(token, SECRET, "microstack").user_id == tokens.MAX_USER_ID == 2**63 - 1


class EndlessBody:
    """A request body that never ends, in reads of at most `burst` bytes; counts what was read."""

    def __init__(self, burst: int = 10) -> None:
        self.burst = burst
        self.consumed = 0

    def read(self, size: int | None = None) -> bytes:
        assert size is not None, "a bounded read, never to the end"
        assert size > 0, "never a read of nothing"
        chunk = b" " * min(size, self.burst)
        self.consumed += len(chunk)
        return chunk


def test_reading_a_body_stops_at_the_size_asked() -> None:
    body = EndlessBody(burst=10)
    assert http._read_at_most(body, 25) == b" " * 25
    assert body.consumed == 25


def test_a_chunked_body_is_read_no_further_than_the_limit_plus_one_byte(app: Flask) -> None:
    environ = EnvironBuilder(path="/users", method="POST", content_type="application/json").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    body = EndlessBody(burst=64 * 1024)
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": body, "wsgi.input_terminated": True})
    # Straight to the app, as gunicorn calls it: the test client would seek the body.
    _, status, _ = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    assert status.startswith("413")
    assert body.consumed == MAX_CONTENT_LENGTH + 1

"""Hostile input, class by class: every answer is a documented 4xx in JSON, never a 5xx."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from servicekit import MAX_CONTENT_LENGTH
from servicekit.http import MAX_DEPTH
from user_helpers import SECRET, AuthActions, post_chunked
from user_service import tokens

BODY_PATHS = ["/users", "/auth/token"]
GOOD = {"username": '"alice"', "password": '"s3cret-pass"'}


def raw_body(**raw_values: str) -> str:
    """A JSON object written by hand, so values can be what json.dumps never writes."""
    values = {**GOOD, **raw_values}
    return "{" + ", ".join(f'"{key}": {value}' for key, value in values.items()) + "}"


def post_raw(client: FlaskClient, path: str, body: str | bytes, **kwargs: Any) -> Any:
    return client.post(path, data=body, content_type=kwargs.pop("content_type", "application/json"), **kwargs)


def assert_field_error(response: Any, field: str) -> None:
    assert response.status_code == 400, response.json
    assert response.is_json
    assert response.json["field"] == field
    assert response.json["error"]


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param({"username": r'"\ud800"'}, "username", id="username-lone-high"),
        pytest.param({"username": r'"ab\udfffcd"'}, "username", id="username-lone-low-inside"),
        pytest.param({"password": r'"s3cret-pass\ud83d"'}, "password", id="password-truncated-pair"),
        pytest.param({"note": r'"\udc80"'}, "note", id="unknown-field"),
        pytest.param({"note": r'{"deeper": ["\ud800"]}'}, "note", id="nested-value"),
        pytest.param({"note": r'{"\ud800": 1}'}, "note", id="nested-key"),
    ],
)
def test_lone_surrogates_in_any_field_are_400_naming_it(
    client: FlaskClient, path: str, raw: dict[str, str], field: str
) -> None:
    response = post_raw(client, path, raw_body(**raw))
    assert_field_error(response, field)
    assert "Unicode" in response.json["error"]


@pytest.mark.parametrize("path", BODY_PATHS)
def test_lone_surrogate_as_a_field_name_is_400_naming_it_escaped(client: FlaskClient, path: str) -> None:
    response = post_raw(client, path, raw_body(**{"\\ud800": "1"}))
    assert_field_error(response, "\\ud800")


def test_a_valid_surrogate_pair_is_fine(auth: AuthActions, client: FlaskClient) -> None:
    response = post_raw(client, "/users", raw_body(password=r'"pass-\ud83d\ude00-word"'))
    assert response.status_code == 201
    assert auth.login("alice", "pass-\U0001f600-word").status_code == 200


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize(
    "number",
    [
        pytest.param("99999999999999999999999", id="beyond-int64"),
        pytest.param("-" + "9" * 5000, id="beyond-python-digit-limit"),
        pytest.param("1e400", id="float-overflow"),
    ],
)
def test_oversized_numbers_in_fields_are_400_naming_them(
    client: FlaskClient, path: str, field: str, number: str
) -> None:
    assert_field_error(post_raw(client, path, raw_body(**{field: number})), field)


@pytest.mark.parametrize("path", BODY_PATHS)
def test_nesting_deeper_than_the_limit_is_400_naming_the_field(client: FlaskClient, path: str) -> None:
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    response = post_raw(client, path, raw_body(note=deep))
    assert_field_error(response, "note")
    assert "nested" in response.json["error"]
    shallow = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert post_raw(client, path, raw_body(note=shallow)).status_code != 400


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000, id="arrays-past-the-recursion-limit"),
        pytest.param('{"a": ' * 100_000, id="objects-past-the-recursion-limit"),
        pytest.param('{"a": ' * 500 + "1" + "}" * 500, id="objects-parseable-but-too-deep"),
    ],
)
def test_deep_nesting_at_the_top_is_400(client: FlaskClient, path: str, body: str) -> None:
    response = post_raw(client, path, body)
    assert response.status_code == 400
    assert response.is_json


@pytest.mark.parametrize("path", BODY_PATHS)
def test_chunked_body_over_the_limit_is_413(client: FlaskClient, path: str) -> None:
    body = raw_body(note='"' + "x" * MAX_CONTENT_LENGTH + '"').encode()
    response = post_chunked(client, path, body)
    assert response.status_code == 413
    assert response.is_json


def test_valid_json_followed_by_padding_past_the_limit_is_413_not_accepted(client: FlaskClient) -> None:
    # werkzeug alone would stop reading at the limit and parse a valid object.
    body = raw_body().encode() + b" " * MAX_CONTENT_LENGTH
    assert post_chunked(client, "/users", body).status_code == 413


def test_chunked_body_within_the_limit_is_read_whole(client: FlaskClient) -> None:
    body = raw_body(note='"' + "x" * (MAX_CONTENT_LENGTH - 100) + '"').encode()
    assert len(body) <= MAX_CONTENT_LENGTH
    response = post_chunked(client, "/users", body)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "json",
        "application/xml",
        "",
    ],
)
def test_wrong_content_types_are_415(client: FlaskClient, path: str, content_type: str) -> None:
    response = post_raw(client, path, raw_body(), content_type=content_type)
    assert response.status_code == 415
    assert response.json == {"error": "Content-Type must be application/json"}


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "application/problem+json"],
)
def test_json_content_types_with_parameters_or_suffixes_are_accepted(
    client: FlaskClient, content_type: str
) -> None:
    assert post_raw(client, "/users", raw_body(), content_type=content_type).status_code == 201


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"], ids=["utf-16", "utf-32", "utf-8-bom"])
def test_json_in_other_unicode_encodings_is_understood(client: FlaskClient, encoding: str) -> None:
    assert post_raw(client, "/users", raw_body().encode(encoding)).status_code == 201


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer \xe9\xff\xfe", id="latin-1-bytes"),
        pytest.param("Bearer " + "a" * 8000, id="huge-token"),
        pytest.param("Bearer\ttoken", id="tab-separator"),
        pytest.param("Bearer a.b.c", id="three-garbage-segments"),
        pytest.param("Bearer ..", id="empty-segments"),
        pytest.param("Bearer eyJhbGciOiJub25lIn0.e30.", id="alg-none-empty-claims"),
        pytest.param("   ", id="blank"),
        pytest.param("Bearer " + "\u0000", id="nul"),
        pytest.param("Basic YWxpY2U6czNjcmV0LXBhc3M=", id="basic-credentials"),
    ],
)
def test_odd_authorization_headers_are_401(client: FlaskClient, header: str) -> None:
    response = client.get("/users/authenticate", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.is_json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Request-ID": "\xff" * 200}, id="request-id-latin-1"),
        pytest.param({"Accept": "text/html"}, id="accept-html"),
        pytest.param({"Accept-Encoding": "gzip;q=nope"}, id="bad-accept-encoding"),
        pytest.param({"Content-Length": "0"}, id="zero-length"),
        pytest.param({"Host": "exa mple..com:99999"}, id="odd-host"),
        pytest.param({"X-Forwarded-For": "1.2.3.4, <script>"}, id="forwarded-for-garbage"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/users"), ("POST", "/auth/token"), ("GET", "/users/authenticate")]
)
def test_odd_headers_never_give_a_5xx(
    client: FlaskClient, method: str, path: str, headers: dict[str, str]
) -> None:
    kwargs: dict[str, Any] = {"headers": headers}
    if method == "POST" and "Content-Length" not in headers:
        kwargs["json"] = {"username": "alice", "password": "s3cret-pass"}
    response = client.open(path, method=method, **kwargs)
    assert 200 <= response.status_code < 500
    assert response.is_json


@pytest.mark.parametrize(
    "sub", [str(2**63), "9" * 100, "9" * 5000], ids=["int64-plus-one", "100-digits", "5000-digits"]
)
def test_a_signed_token_naming_an_id_too_large_for_sqlite_is_401(client: FlaskClient, sub: str) -> None:
    now = int(time.time())
    claims = {
        "sub": sub,
        "username": "someone",
        "iat": now,
        "exp": now + 60,
        "iss": tokens.ISSUER,
        "aud": "microstack",
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")

    response = client.get("/users/authenticate", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json == {"error": "token is invalid"}

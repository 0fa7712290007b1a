"""Strings that are not valid Unicode get 400 naming the field, in every string field.

JSON allows `\\ud800` as text, but it decodes to a lone surrogate, which no
UTF-8 encoder (database, password hash, log line) accepts. Sent as raw JSON
text, since a JSON library would refuse to write it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import BODY_ENDPOINTS, Endpoint, auth_headers
from .replies import assert_client_error, raw_request

# JSON escapes, written out as text, put inside an otherwise valid value (so that
# no other rule, such as a minimum length, refuses it first).
LONE_SURROGATES = {
    "high": "\\ud800",
    "low": "\\udfff",
    "reversed-pair": "\\udc00\\ud800",
    "half-emoji": "\\ud83d",
}
FIELD_CASES = [
    pytest.param(endpoint, field, escape, id=f"{endpoint.service}{endpoint.path}-{field}-{name}")
    for endpoint in BODY_ENDPOINTS
    for field in endpoint.string_fields
    for name, escape in LONE_SURROGATES.items()
]


def body_with(endpoint: Endpoint, field: str, escaped_text: str) -> bytes:
    """The endpoint's valid body with raw JSON string text spliced into `field`'s value."""
    valid = endpoint.valid[field]
    placeholder = "@@HOSTILE@@"
    text = json.dumps({**endpoint.valid, field: valid[:4] + placeholder + valid[4:]})
    return text.replace(placeholder, escaped_text).encode()


def post(urls: dict[str, str], endpoint: Endpoint, seller: Any, body: bytes) -> Any:
    headers = [("Content-Type", "application/json"), *auth_headers(endpoint, seller)]
    return raw_request(urls[endpoint.service], "POST", endpoint.path, headers, body)


@pytest.mark.parametrize(("endpoint", "field", "escape"), FIELD_CASES)
def test_lone_surrogate_in_a_string_field_is_refused_naming_it(
    urls: dict[str, str], seller: Any, endpoint: Endpoint, field: str, escape: str
) -> None:
    reply = post(urls, endpoint, seller, body_with(endpoint, field, escape))

    assert_client_error(reply, 400, field=field)


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS, ids=str)
def test_lone_surrogate_in_an_unknown_key_is_harmless(
    urls: dict[str, str], seller: Any, endpoint: Endpoint
) -> None:
    text = json.dumps(endpoint.valid)[:-1] + ', "\\ud800": "\\udfff"}'

    reply = post(urls, endpoint, seller, text.encode())

    assert reply.status < 500, str(reply)


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", b"\xed\xa0\x80", b"\xc3", b"\xf4\x90\x80\x80"],
    ids=["not-utf8", "encoded-surrogate", "truncated", "beyond-unicode"],
)
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS, ids=str)
def test_body_that_is_not_utf8_is_refused(
    urls: dict[str, str], seller: Any, endpoint: Endpoint, raw: bytes
) -> None:
    field = endpoint.string_fields[0]
    text = json.dumps({**endpoint.valid, field: "@@"}).encode()

    reply = post(urls, endpoint, seller, text.replace(b"@@", raw))

    assert_client_error(reply, 400)

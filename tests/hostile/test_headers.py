"""Odd headers the app itself sees: odd credentials, request ids, types and hosts, never a 5xx."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .replies import assert_client_error, raw_request

TOKEN_CHECKS = [
    ("user-service", "/users/authenticate"),
    ("product-service", "/products/validate-user"),
]
ODD_AUTHORIZATION: dict[str, list[bytes]] = {
    "scheme-only": [b"Bearer"],
    "scheme-and-space": [b"Bearer "],
    "basic": [b"Basic dXNlcjpwYXNzd29yZA=="],
    "two-words": [b"Bearer abc def"],
    "tab-separated": [b"Bearer\tabc"],
    "long": [b"Bearer " + b"x" * 7000],  # under gunicorn's 8190-byte field limit
    "latin1-byte": [b"Bearer caf\xe9"],
    "utf8-bytes": ["Bearer café".encode()],
    "nul-like-escape": [b"Bearer \\u0000"],
    "twice": [b"Bearer abc", b"Bearer def"],
}


@pytest.mark.parametrize("values", ODD_AUTHORIZATION.values(), ids=ODD_AUTHORIZATION.keys())
@pytest.mark.parametrize(("service", "path"), TOKEN_CHECKS, ids=[s for s, _ in TOKEN_CHECKS])
def test_odd_authorization_header_is_401(
    urls: dict[str, str], service: str, path: str, values: list[bytes]
) -> None:
    reply = raw_request(urls[service], "GET", path, [("Authorization", value) for value in values])

    assert_client_error(reply, 401)
    assert reply.headers.get("www-authenticate", "").startswith("Bearer")


ODD_REQUEST_IDS = {
    "long": b"r" * 5000,
    "spaces": b"a b c",
    "latin1-byte": b"caf\xe9",
    "log-injection": b'x", "level": "ERROR',
    "empty": b"",
}


@pytest.mark.parametrize("value", ODD_REQUEST_IDS.values(), ids=ODD_REQUEST_IDS.keys())
@pytest.mark.parametrize("service", ["user-service", "product-service"])
def test_odd_request_id_is_replaced_not_echoed(urls: dict[str, str], service: str, value: bytes) -> None:
    reply = raw_request(urls[service], "GET", "/health", [("X-Request-ID", value)])

    assert reply.status == 200, str(reply)
    echoed = reply.headers["x-request-id"]
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", echoed), echoed


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-16",
        "APPLICATION/JSON",
        "application/json;;;",
        "application/problem+json",
    ],
)
def test_odd_but_json_content_type_is_read_or_refused_cleanly(
    user_service_url: str, content_type: str
) -> None:
    body = b'{"username": "x", "password": "y"}'

    reply = raw_request(user_service_url, "POST", "/auth/token", [("Content-Type", content_type)], body)

    assert_client_error(reply, 400, 401, 415, 429)


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "*/*;q=0", "garbage/"])
def test_any_accept_header_still_gets_json(product_service_url: str, accept: str) -> None:
    reply = raw_request(product_service_url, "GET", "/products/0", [("Accept", accept)])

    assert_client_error(reply, 404)


@pytest.mark.parametrize(
    "host",
    [b"evil.example", b"127.0.0.1:99999", b"[::1", b"h\xe9st", b"a" * 1000],
    ids=lambda h: repr(h)[:20],
)
def test_odd_host_header_never_fails_the_server(product_service_url: str, seller: Any, host: bytes) -> None:
    # A list is the response most likely to build URLs (pagination links) from Host.
    for path in ("/products", "/products/validate-user"):
        headers: list[tuple[str, bytes | str]] = [("Host", host), ("Authorization", f"Bearer {seller.token}")]
        reply = raw_request(product_service_url, "GET", path, headers)

        assert reply.status < 500, str(reply)
        if reply.status >= 400:
            assert_client_error(reply, 400)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize(("service", "path"), [("user-service", "/users"), ("product-service", "/products")])
def test_unsupported_method_is_405_json(urls: dict[str, str], service: str, path: str, method: str) -> None:
    reply = raw_request(urls[service], method, path, [("Content-Type", "application/json")], b"{}")

    assert_client_error(reply, 405)
    assert "allow" in reply.headers

"""Malformed HTTP is refused by gunicorn itself, before the app: 4xx, no traceback, connection closed.

These replies are gunicorn's own (`gunicorn.util.write_error`): a short HTML
page, not the services' JSON, since no application code runs for a request
that can't be parsed. The one 5xx is 501 for a transfer coding gunicorn does
not implement, which RFC 9112 section 6.1 asks for.
"""

from __future__ import annotations

import pytest

from .replies import Reply, raw_request

MALFORMED = {
    "request-line-over-4094-bytes": ("GET", "/products?q=" + "a" * 5000, [], 414),
    "header-over-8190-bytes": ("GET", "/products", [("X-Big", "a" * 9000)], 431),
    "over-100-headers": ("GET", "/products", [(f"X-Header-{i}", "a") for i in range(150)], 431),
    "content-length-not-a-number": ("POST", "/products", [("Content-Length", "ten")], 400),
    "content-length-negative": ("POST", "/products", [("Content-Length", "-1")], 400),
    "content-length-twice": ("POST", "/products", [("Content-Length", "2"), ("Content-Length", "3")], 400),
    "content-length-and-chunked": (
        "POST",
        "/products",
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        400,
    ),
    "chunked-twice": ("POST", "/products", [("Transfer-Encoding", "chunked, chunked")], 400),
    "header-name-with-space": ("GET", "/products", [("Bad Name", "x")], 400),
    "unknown-transfer-coding": ("POST", "/products", [("Transfer-Encoding", "xyz")], 501),
}


@pytest.mark.parametrize("case", MALFORMED, ids=str)
@pytest.mark.parametrize("service", ["user-service", "product-service"])
def test_malformed_http_is_refused_before_the_app(urls: dict[str, str], service: str, case: str) -> None:
    method, path, headers, status = MALFORMED[case]
    path = path.replace("/products", "/users") if service == "user-service" else path

    reply: Reply = raw_request(urls[service], method, path, headers, b"", content_length=False)

    assert reply.status == status, str(reply)
    assert reply.headers.get("connection", "").lower() == "close"
    assert b"Traceback" not in reply.body

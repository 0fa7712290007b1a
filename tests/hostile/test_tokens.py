"""Bad, forged, expired and mismatched tokens: 401 with a Bearer challenge from both services.

Forged tokens are made the way an attacker who knows the token format would,
and, for the expiry and claim checks, re-signed with the stack's real secret
(read from the container), so that only the claim under test is wrong.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from .conftest import Seller
from .replies import assert_client_error, raw_request

Claims = dict[str, Any]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> Claims:
    """The claims of a token the service issued (not verified: we only copy them)."""
    claims: Claims = jwt.decode(token, options={"verify_signature": False})
    return claims


def sign(claims: Claims, key: str, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        # PyJWT warns about short HS512 keys; a forger doesn't care.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def resigned(change: Callable[[Claims], Claims]) -> Callable[[Seller, str], str]:
    """A token with the seller's real claims changed, signed with the stack's own secret."""

    def make(seller: Seller, secret: str) -> str:
        return sign(change(claims_of(seller.token)), secret)

    return make


def without(name: str) -> Callable[[Claims], Claims]:
    return lambda claims: {key: value for key, value in claims.items() if key != name}


def replaced(**changes: Any) -> Callable[[Claims], Claims]:
    return lambda claims: {**claims, **changes}


HOUR = 3600
FORGERIES: dict[str, Callable[[Seller, str], str]] = {
    "garbage": lambda seller, secret: "not-a-token",
    "empty-segments": lambda seller, secret: "..",
    "bad-base64": lambda seller, secret: "%%%.%%%.%%%",
    "truncated": lambda seller, secret: seller.token[: len(seller.token) // 2],
    "tampered-signature": lambda seller, secret: (
        seller.token[:-6] + ("A" * 6 if seller.token[-6:] != "A" * 6 else "B" * 6)
    ),
    "other-secret": lambda seller, secret: sign(claims_of(seller.token), secrets.token_urlsafe(32)),
    "alg-none": lambda seller, secret: (
        f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_of(seller.token))}."
    ),
    "alg-hs512": lambda seller, secret: sign(claims_of(seller.token), secret, "HS512"),
    "expired": resigned(lambda c: {**c, "iat": int(time.time()) - 2 * HOUR, "exp": int(time.time()) - HOUR}),
    "no-expiry": resigned(without("exp")),
    "other-issuer": resigned(replaced(iss="someone-else")),
    "no-issuer": resigned(without("iss")),
    "other-audience": resigned(replaced(aud="someone-else")),
    "unknown-user": resigned(replaced(sub="999999999")),
    "user-id-too-big-for-sqlite": resigned(replaced(sub=str(2**63))),
    "user-id-hundred-digits": resigned(replaced(sub="9" * 100)),
    "user-id-not-a-number": resigned(replaced(sub="one")),
    "user-id-as-json-number": resigned(lambda c: {**c, "sub": int(c["sub"])}),
    "username-of-someone-else": resigned(replaced(username="someone-else")),
    "username-not-a-string": resigned(replaced(username=["a"])),
    "lone-surrogate-in-username": resigned(replaced(username="\ud800")),
}
TOKEN_CHECKS = [
    ("user-service", "GET", "/users/authenticate"),
    ("product-service", "GET", "/products/validate-user"),
    ("product-service", "POST", "/products"),
]


@pytest.fixture(scope="module")
def secret(stack: Any) -> str:
    """The stack's signing secret, as the container was started with it."""
    value: str = stack.environment("user-service")["SECRET_KEY"]
    return value


@pytest.mark.parametrize("forgery", FORGERIES, ids=str)
@pytest.mark.parametrize(("service", "method", "path"), TOKEN_CHECKS, ids=lambda v: str(v).strip("/"))
def test_forged_or_expired_token_is_401(
    urls: dict[str, str], seller: Seller, secret: str, service: str, method: str, path: str, forgery: str
) -> None:
    token = FORGERIES[forgery](seller, secret)
    headers = [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")]
    body = json.dumps({"name": "forged", "price": 1}).encode() if method == "POST" else b""

    reply = raw_request(urls[service], method, path, headers, body)

    assert_client_error(reply, 401)
    assert reply.headers.get("www-authenticate", "").startswith("Bearer")


def test_the_resigned_original_is_accepted(urls: dict[str, str], seller: Seller, secret: str) -> None:
    # Control: re-signing changes nothing by itself, so each 401 above is the changed claim's.
    token = resigned(lambda claims: claims)(seller, secret)

    reply = raw_request(
        urls["user-service"], "GET", "/users/authenticate", [("Authorization", f"Bearer {token}")]
    )

    assert reply.status == 200, str(reply)
    assert reply.json()["username"] == seller.username

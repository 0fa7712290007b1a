"""HS256 bearer tokens; other services check them via /users/authenticate.

Each token names its account twice (`sub`, the id, and `username`) and the
audience it is for (`aud`, TOKEN_AUDIENCE): verify() insists on the audience, and
/users/authenticate on both names matching the account.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ISSUER = "user-service"
ALGORITHM = "HS256"
MAX_USER_ID = 2**63 - 1  # SQLite's largest integer
REQUIRED_CLAIMS = ["sub", "username", "iat", "exp", "iss", "aud"]


class InvalidTokenError(Exception):
    """The token is malformed, tampered with, expired or otherwise unusable."""


@dataclass(frozen=True)
class TokenClaims:
    """The claims we rely on after verification."""

    user_id: int
    username: str


def issue(user_id: int, username: str, secret: str, ttl_seconds: int, audience: str) -> str:
    """Return a signed token for the user, for `audience`, that expires after ttl_seconds."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "username": username,
        "iat": now,
        "exp": now + ttl_seconds,
        "iss": ISSUER,
        "aud": audience,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str, secret: str, audience: str) -> TokenClaims:
    """Return a valid token's claims, else raise InvalidTokenError (safe reason)."""
    try:
        # algorithms is pinned: never let the token choose (e.g. "none").
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=audience,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidTokenError("token has expired") from None
    except jwt.InvalidTokenError:
        raise InvalidTokenError("token is invalid") from None
    sub, username = claims["sub"], claims["username"]
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and isinstance(username, str)):
        raise InvalidTokenError("token is invalid")
    # An id SQLite can't hold (or Python won't parse) names no account: 401, not 500.
    if len(sub) > len(str(MAX_USER_ID)) or int(sub) > MAX_USER_ID:
        raise InvalidTokenError("token is invalid")
    return TokenClaims(user_id=int(sub), username=username)

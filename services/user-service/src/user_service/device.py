"""Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies").

A successful login sets a cookie that names the account and is signed with the
service's key. A later login for that account that shows it is counted under the
account's device counter instead of its address's counters (throttle.py): a user
who has logged in before passes with the right password, whatever else comes from
the same address. The cookie grants nothing else: it is not a credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

COOKIE = "device"
#: Scopes the signing key to this use: a token signature is never a valid cookie, or back.
_PURPOSE = b"user-service device cookie v1"


def _signature(payload: str, secret: str) -> str:
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(user_id: int, secret: str, ttl: int, now: float | None = None) -> str:
    """A cookie value for this account, valid for ttl seconds."""
    now = time.time() if now is None else now
    payload = f"{user_id}.{int(now) + ttl}"
    return f"{payload}.{_signature(payload, secret)}"


def recognises(value: str | None, user_id: int, secret: str, now: float | None = None) -> bool:
    """Whether value is an unexpired cookie this service set for this account."""
    now = time.time() if now is None else now
    account, _, rest = (value or "").partition(".")
    expires, _, signature = rest.partition(".")
    # A cookie is whatever the client sends: compared as bytes (compare_digest refuses
    # non-ASCII str); int() reads only what our signature covers.
    if account != str(user_id) or not expires.isdigit():
        return False
    expected = _signature(f"{account}.{expires}", secret)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return False
    return int(expires) > now

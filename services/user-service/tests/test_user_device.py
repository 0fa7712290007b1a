"""Device cookies: signed for one account by this service's key, unexpired, nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from flask.testing import FlaskClient
from user_helpers import AuthActions
from user_service import device

SECRET = "device-test-secret-0123456789abcdef-xyz"
NOW = 1_000_000.0
TTL = 3600


def test_the_signature_is_hmac_sha256_under_a_key_for_this_purpose_only() -> None:
    """A known answer: HMAC-SHA256 keyed by HMAC(secret, purpose), base64url without padding."""
    key = hmac.new(SECRET.encode(), b"user-service device cookie v1", hashlib.sha256).digest()
    payload = f"7.{int(NOW) + TTL}"
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    value = device.issue(7, SECRET, TTL, now=NOW)
    assert value == f"{payload}.{expected}"
    assert "=" not in value  # a cookie value that needs no quoting


def test_a_cookie_is_recognised_for_its_account_until_it_expires() -> None:
    value = device.issue(7, SECRET, TTL, now=NOW)
    assert value.startswith(f"7.{int(NOW) + TTL}.")
    assert device.recognises(value, 7, SECRET, now=NOW)
    assert device.recognises(value, 7, SECRET, now=NOW + TTL - 1)
    assert not device.recognises(value, 7, SECRET, now=NOW + TTL)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("7", id="account-only"),
        pytest.param(f"7.{int(NOW) + TTL}", id="unsigned"),
        pytest.param(f"7.{int(NOW) + TTL}.AAAA", id="bad-signature"),
        pytest.param(f"7.-{int(NOW) + TTL}.x", id="negative-expiry"),
        pytest.param("7.\u00b2\u00b2.x", id="superscript-digits"),
        pytest.param(f"7.{int(NOW) + TTL}.\u00e9t\u00e9", id="non-ascii-signature"),
    ],
)
def test_malformed_or_unsigned_values_are_not_recognised(value: str | None) -> None:
    assert not device.recognises(value, 7, SECRET, now=NOW)


def test_a_cookie_names_one_account_and_one_key() -> None:
    value = device.issue(7, SECRET, TTL, now=NOW)
    assert not device.recognises(value, 8, SECRET, now=NOW)
    assert not device.recognises(value, 7, SECRET + "-other", now=NOW)
    account, expires, signature = value.split(".")
    later = f"{account}.{int(expires) + TTL}.{signature}"  # a longer life can't be forged
    assert not device.recognises(later, 7, SECRET, now=NOW)
    assert not device.recognises(f"8.{expires}.{signature}", 8, SECRET, now=NOW)


def test_the_default_clock_is_now() -> None:
    assert device.recognises(device.issue(7, SECRET, TTL), 7, SECRET)
    assert not device.recognises(device.issue(7, SECRET, TTL, now=NOW), 7, SECRET)


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("7.\u00b2\u00b2.x", id="superscript-digits"),
        pytest.param("1.99999999999.\u00e9t\u00e9", id="non-ascii-signature"),
        pytest.param("x" * 4000, id="long"),
    ],
)
def test_a_hostile_cookie_is_ignored_not_a_500(client: FlaskClient, auth: AuthActions, cookie: str) -> None:
    auth.register("alice", "s3cret-pass")
    client.set_cookie(device.COOKIE, cookie, path="/auth")
    assert auth.login("alice", "wrong-pass").status_code == 401
    assert auth.login("alice", "s3cret-pass").status_code == 200

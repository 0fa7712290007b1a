"""Password login that hands out bearer tokens, throttled after repeated failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from sqlite3 import Row

from flask import Blueprint, Response, current_app, jsonify, request
from servicekit.errors import ServiceUnavailableError, TooManyRequestsError, UnauthorizedError
from servicekit.http import json_object

from user_service import clients, db, device, passwords, throttle, tokens, validation

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger(__name__)

BAD_CREDENTIALS = "invalid username or password"
#: Seconds a caller turned away for want of a hash slot is told to wait (a few hashes' time).
BUSY_RETRY_AFTER = 1


@bp.post("/token")
def issue_token() -> Response:
    """Exchange username and password for a token; one message for every failure."""
    return login()


# The views' work lives in plain functions: mutmut (`nox -s mutation`) skips decorated ones.


def login() -> Response:
    """issue_token's work: check, count, verify, then the token and the device cookie."""
    username, password = validation.credentials(json_object(), strict=False)
    wait = float(current_app.config["HASH_WAIT_SECONDS"])
    with hashing_turn():
        user = db.find_by_username(username)
        # Checked and counted before any hashing, in one transaction: a refused caller
        # costs no hash, and concurrent guesses can't all pass the check.
        keys = throttle_keys(user)
        attempt = counted(keys, "login refused: too many failed logins", "too many failed logins")
        try:
            if user is None:
                passwords.burn_time(password, wait)
            if user is None or not passwords.verify_password(user["password_hash"], password, wait):
                raise UnauthorizedError(BAD_CREDENTIALS)
        except passwords.HashingBusy:
            throttle.take_back(attempt)  # nothing was judged
            raise
        throttle.succeeded(attempt)
        if passwords.needs_rehash(user["password_hash"]):
            # The only moment we hold the password: move the account to today's hash.
            try:
                new_hash = passwords.hash_password(password, wait)
            except passwords.HashingBusy:
                log.info("password hash upgrade skipped: no hash slot came free")
            else:
                db.replace_password_hash(user["id"], user["password_hash"], new_hash)
    config = current_app.config
    ttl = int(config["TOKEN_TTL_SECONDS"])
    token = tokens.issue(user["id"], user["username"], config["SECRET_KEY"], ttl, config["TOKEN_AUDIENCE"])
    response = jsonify({"access_token": token, "token_type": "Bearer", "expires_in": ttl})
    remember_device(response, user["id"])
    return response


# --- Throttling by account, client and device (throttle.py, device.py) -----------------


def throttle_keys(user: Row | None) -> tuple[throttle.Key, ...]:
    """The counters this login is judged by: its account's from this client, or its device's."""
    known = user is not None and device.recognises(
        request.cookies.get(device.COOKIE), user["id"], current_app.config["SECRET_KEY"]
    )
    return throttle.login_keys(None if user is None else user["id"], clients.of_request(), device=known)


def counted(keys: Sequence[throttle.Key], event: str, error: str) -> throttle.Attempt:
    """Check and count the attempt (throttle.begin), or refuse it: 429 with Retry-After, logged as event.

    Login and sign-up alike; error starts the message the caller reads.
    """
    try:
        return throttle.begin(keys)
    except throttle.Refused as refused:
        log.warning(event, extra={"retry_after": refused.retry_after})
        raise TooManyRequestsError(
            f"{error}; try again in {refused.retry_after} seconds", retry_after=refused.retry_after
        ) from None


def remember_device(response: Response, user_id: int) -> None:
    """Set the device cookie that lets this caller past its address's limits next time."""
    ttl = int(current_app.config["DEVICE_COOKIE_TTL_SECONDS"])
    value = device.issue(user_id, current_app.config["SECRET_KEY"], ttl)
    response.set_cookie(device.COOKIE, value, max_age=ttl, path="/auth", httponly=True, samesite="Strict")


@contextmanager
def hashing_turn() -> Iterator[None]:
    """A place among the threads allowed to hash, else 503 with Retry-After at once
    (also when this client already holds its share of the places)."""
    try:
        with admission():
            yield
    except passwords.HashingBusy:
        raise busy() from None


def admission() -> AbstractContextManager[None]:
    """This client's place among the threads allowed to hash (passwords.admission)."""
    return passwords.admission(clients.of_request())


def busy() -> ServiceUnavailableError:
    """The 503 for a caller that got no place or no hash slot, logged."""
    log.warning("refused: every hash slot is taken", extra={"path": request.path})
    return ServiceUnavailableError(
        "the service is busy hashing passwords; try again shortly", retry_after=BUSY_RETRY_AFTER
    )

"""Password login that hands out bearer tokens, throttled after repeated failures."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from servicekit.errors import TooManyRequestsError, UnauthorizedError
from servicekit.http import json_object

from user_service import db, passwords, throttle, tokens, validation

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger(__name__)

BAD_CREDENTIALS = "invalid username or password"


@bp.post("/token")
def issue_token() -> Response:
    """Exchange username and password for a token; one message for every failure."""
    username, password = validation.credentials(json_object(), strict=False)
    account, client = throttle.keys_for(username, request.remote_addr)
    keys = (account, client)
    # Checked before any hashing: a blocked caller costs us one indexed read.
    wait = throttle.retry_after(keys)
    if wait is not None:
        log.warning("login refused: too many failed logins", extra={"retry_after": wait})
        raise TooManyRequestsError(f"too many failed logins; try again in {wait} seconds", retry_after=wait)
    user = db.find_by_username(username)
    if user is None:
        passwords.burn_time(password)
    if user is None or not passwords.verify_password(user["password_hash"], password):
        throttle.record_failure(keys)
        raise UnauthorizedError(BAD_CREDENTIALS)
    throttle.clear(account)
    if passwords.needs_rehash(user["password_hash"]):
        # The only moment we hold the password: move the account to today's hash.
        db.replace_password_hash(user["id"], user["password_hash"], passwords.hash_password(password))
    config = current_app.config
    ttl = int(config["TOKEN_TTL_SECONDS"])
    token = tokens.issue(user["id"], user["username"], config["SECRET_KEY"], ttl, config["TOKEN_AUDIENCE"])
    return jsonify({"access_token": token, "token_type": "Bearer", "expires_in": ttl})

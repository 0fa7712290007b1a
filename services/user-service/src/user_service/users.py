"""Sign-up and the token check that other services call."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from servicekit.errors import ConflictError, UnauthorizedError
from servicekit.http import json_object

from user_service import auth, clients, db, passwords, throttle, tokens, validation

bp = Blueprint("users", __name__, url_prefix="/users")
log = logging.getLogger(__name__)

# RFC 6750 challenges: a bare one when no token was sent, invalid_token when it was bad.
CHALLENGE = 'Bearer realm="user-service"'
INVALID_CHALLENGE = 'Bearer realm="user-service", error="invalid_token"'


@bp.post("")
def create_user() -> tuple[Response, int]:
    """Register a user; 409 if the username (folded: case and Unicode forms) is taken.

    A 409 tells the caller that the name exists (a sign-up form must say so, and the
    API contract has it). It is the least it can tell: it comes after the same hash
    as a 201, so its timing says nothing more, and it counts against the client's
    SIGNUP_CONFLICTS_PER_CLIENT per window (429 for every later sign-up past it,
    before the name is looked at), so one client can test only that many names.
    Every sign-up also counts against SIGNUPS_PER_CLIENT.
    """
    return sign_up()


# The views' work lives in plain functions: mutmut (`nox -s mutation`) skips decorated ones.


def sign_up() -> tuple[Response, int]:
    """create_user's work: check and count, hash, then insert (a taken name counts as a conflict)."""
    username, password = validation.credentials(json_object(), strict=True)
    signups, conflicts = throttle.signup_keys(clients.of_request())
    with auth.hashing_turn():
        attempt = auth.counted(
            (signups, conflicts), "sign-up refused: too many sign-ups", "too many sign-ups from this client"
        )
        try:
            password_hash = passwords.hash_password(password, float(current_app.config["HASH_WAIT_SECONDS"]))
        except passwords.HashingBusy:
            throttle.take_back(attempt)  # nothing was done
            raise
    user_id = db.insert_user(username, password_hash)
    if user_id is None:
        throttle.count(conflicts)
        raise ConflictError("username", "username is already taken")
    return jsonify({"id": user_id, "username": username}), 201


def bearer_token() -> str:
    """Return the token from `Authorization: Bearer <token>` or raise 401."""
    header = request.headers.get("Authorization")
    if not header:
        raise UnauthorizedError("missing Authorization header", challenge=CHALLENGE)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise UnauthorizedError("Authorization header must be 'Bearer <token>'", challenge=INVALID_CHALLENGE)
    return token


@bp.get("/authenticate")
def authenticate() -> Response:
    """Verify the caller's token and that its user still exists."""
    return check_token()


def check_token() -> Response:
    """authenticate's work: the token's signature and claims, then its account."""
    try:
        claims = tokens.verify(
            bearer_token(), current_app.config["SECRET_KEY"], current_app.config["TOKEN_AUDIENCE"]
        )
    except tokens.InvalidTokenError as exc:
        raise UnauthorizedError(str(exc), challenge=INVALID_CHALLENGE) from None
    # Read the user so deleted accounts stop working and DB faults surface as 500.
    user = db.find_by_id(claims.user_id)
    if user is None:
        raise UnauthorizedError("user no longer exists", challenge=INVALID_CHALLENGE)
    # The id and the name must both be this account's: a token that names someone
    # else is not this account's, however it was made.
    if user["username"] != claims.username:
        raise UnauthorizedError("token does not match its account", challenge=INVALID_CHALLENGE)
    return jsonify(
        {
            "user_id": user["id"],
            "username": user["username"],
            "message": "Authenticated",
        }
    )

"""Password login that hands out bearer tokens."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from servicekit.errors import UnauthorizedError
from servicekit.http import json_object

from user_service import db, passwords, tokens, validation

bp = Blueprint("auth", __name__, url_prefix="/auth")

BAD_CREDENTIALS = "invalid username or password"


@bp.post("/token")
def issue_token() -> Response:
    """Exchange username and password for a token; one message for every failure."""
    username, password = validation.credentials(json_object(), strict=False)
    user = db.find_by_username(username)
    if user is None:
        passwords.burn_time(password)
        raise UnauthorizedError(BAD_CREDENTIALS)
    if not passwords.verify_password(user["password_hash"], password):
        raise UnauthorizedError(BAD_CREDENTIALS)
    ttl = int(current_app.config["TOKEN_TTL_SECONDS"])
    token = tokens.issue(user["id"], user["username"], current_app.config["SECRET_KEY"], ttl)
    return jsonify({"access_token": token, "token_type": "Bearer", "expires_in": ttl})

"""user-service's OpenAPI document, from the limits the code enforces.

Regenerate the checked-in copy after a change:
`.venv/bin/python -m user_service.openapi > services/user-service/openapi.json`
"""

from __future__ import annotations

from servicekit import openapi
from servicekit.openapi import body_errors, error, json_body, operation, response, schema_ref, tagged

from user_service import validation

INFO = openapi.Info(
    "user-service", "1.3.0", "Accounts, password login and bearer tokens for the other services."
)

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
BUSY = error(
    "Every password-hashing slot stayed taken for HASH_WAIT_SECONDS (or more callers were already "
    "waiting): nothing was done or counted; retry after Retry-After.",
    headers=RETRY_AFTER,
)

DEVICE_COOKIE = {
    "Set-Cookie": {
        "description": "`device=<value>`: signed, names this account, lasts DEVICE_COOKIE_TTL_SECONDS.",
        "schema": {"type": "string"},
    }
}
DEVICE_COOKIE_PARAMETER = {
    "name": "device",
    "in": "cookie",
    "required": False,
    "description": "The cookie an earlier successful login set; anything else is ignored.",
    "schema": {"type": "string"},
}

BEARER_ERRORS = (
    "No valid bearer token: the header is missing or not `Bearer <token>`, or the token is "
    "malformed, tampered with, expired, for another audience, or names an account that does "
    "not exist or has another username."
)


def _schemas() -> dict[str, object]:
    return {
        "NewUser": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": {
                    "type": "string",
                    "pattern": f"^{validation.USERNAME_PATTERN}$",
                    "minLength": 3,
                    "maxLength": validation.USERNAME_MAX,
                },
                "password": {
                    "type": "string",
                    "minLength": validation.PASSWORD_MIN,
                    "maxLength": validation.PASSWORD_MAX,
                },
            },
        },
        "Credentials": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": {"type": "string", "minLength": 1, "maxLength": validation.USERNAME_MAX},
                "password": {"type": "string", "minLength": 1, "maxLength": validation.PASSWORD_MAX},
            },
        },
        "User": {
            "type": "object",
            "required": ["id", "username"],
            "properties": {"id": {"type": "integer", "minimum": 1}, "username": {"type": "string"}},
            "additionalProperties": False,
        },
        "Token": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer", "minimum": 1},
            },
            "additionalProperties": False,
        },
        "AuthenticatedUser": openapi.authenticated_user({"type": "string", "enum": ["Authenticated"]}),
    }


def build() -> openapi.Document:
    """Return the whole document."""
    challenge = {
        "WWW-Authenticate": {
            "description": "An RFC 6750 Bearer challenge.",
            "schema": {"type": "string"},
        }
    }
    users = {
        "/users": {
            "post": operation(
                "createUser",
                "Sign up.",
                {
                    "201": response("Created.", schema_ref("User")),
                    **body_errors(),
                    "409": error(
                        "The username is taken (`field` is `username`): names are compared folded "
                        "(NFKC, case-insensitive), so `Alice` is taken once `alice` exists. This tells "
                        "the caller the name exists, so a client gets at most SIGNUP_CONFLICTS_PER_CLIENT "
                        "409s per window (then 429 for every sign-up); every sign-up attempt also counts "
                        "against the client's SIGNUPS_PER_CLIENT."
                    ),
                    "429": error(
                        "Too many sign-up attempts, or too many names found taken, from this client in "
                        "this window; answered before the name is looked at.",
                        headers=RETRY_AFTER,
                    ),
                    "503": BUSY,
                },
                request_body=json_body("NewUser", "The new account; unknown fields are ignored."),
            )
        },
    }
    auth = {
        "/auth/token": {
            "post": operation(
                "issueToken",
                "Log in: exchange username and password for a bearer token.",
                {
                    "200": response(
                        "A signed token for this user. Also sets the `device` cookie (HttpOnly, "
                        "SameSite=Strict, Path=/auth) that recognises this client at its next logins.",
                        schema_ref("Token"),
                        headers=DEVICE_COOKIE,
                    ),
                    **body_errors(),
                    "401": error("Wrong username or password (one message for both).", headers=challenge),
                    "429": error(
                        "Too many failed logins from this client for this account "
                        "(LOGIN_FAILURES_PER_ACCOUNT), or from this client in all "
                        "(LOGIN_FAILURES_PER_CLIENT, for any name); refused even with the right password "
                        "until Retry-After passes. Other clients are not affected, and a caller showing "
                        "the account's `device` cookie is counted apart (its own "
                        "LOGIN_FAILURES_PER_ACCOUNT failures).",
                        headers=RETRY_AFTER,
                    ),
                    "503": BUSY,
                },
                parameters=[DEVICE_COOKIE_PARAMETER],
                request_body=json_body(
                    "Credentials",
                    "The account to log in as (the username compared folded: NFKC, case-insensitive); "
                    "unknown fields are ignored.",
                ),
            )
        },
        "/users/authenticate": {
            "get": operation(
                "authenticate",
                "Check the caller's bearer token; other services call this for every request they authorise.",
                {
                    "200": response("The token is valid for this account.", schema_ref("AuthenticatedUser")),
                    "401": error(BEARER_ERRORS, headers=challenge),
                },
                bearer=True,
            )
        },
    }
    paths = {**tagged("users", users), **tagged("auth", auth)}
    return openapi.document(INFO, paths=paths, schemas=_schemas())


if __name__ == "__main__":
    print(openapi.dumps(build()), end="")  # noqa: T201 - writes the checked-in copy

"""user-service: accounts, password login and bearer tokens for the other services."""

from __future__ import annotations

from typing import Any

import servicekit.openapi
from flask import Flask
from servicekit import factory
from servicekit.config import REQUIRED, Setting, positive_float, positive_int

from user_service import clients, db, passwords

SERVICE_NAME = "user-service"
# HS256 keys shorter than the hash output are weak (RFC 7518 section 3.2); PyJWT warns
# too.
MIN_SECRET_KEY_BYTES = 32


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from defaults, then env, then test_config; fail fast if invalid."""
    return factory.create_app(SERVICE, test_config, _setup)


def _setup(app: Flask) -> None:
    from user_service import auth, users
    from user_service.openapi import build

    # Made once, in gunicorn's master (preload_app) before the workers fork: never
    # while a request waits.
    with app.app_context():
        passwords.remember_schemes(db.password_hashes())
    app.register_blueprint(users.bp)
    app.register_blueprint(auth.bp)
    servicekit.openapi.init_app(app, build)


def _check_secret(value: str) -> str | None:
    if len(value.encode()) < MIN_SECRET_KEY_BYTES:
        return f"must be at least {MIN_SECRET_KEY_BYTES} bytes long"
    return None


SETTINGS = (
    Setting("SECRET_KEY", str, REQUIRED, _check_secret),
    Setting("DATABASE_PATH", str, "/data/users.db"),
    Setting("TOKEN_TTL_SECONDS", positive_int, 3600),
    # The `aud` claim of the tokens issued, and the only one /users/authenticate accepts.
    Setting("TOKEN_AUDIENCE", str, "microstack"),
    # Failed logins allowed per window: per account from one client (and per device
    # cookie), and per client on all accounts (the spraying bound); see throttle.py.
    Setting("LOGIN_FAILURES_PER_ACCOUNT", positive_int, 10),
    Setting("LOGIN_FAILURES_PER_CLIENT", positive_int, 1000),
    Setting("LOGIN_FAILURE_WINDOW_SECONDS", positive_int, 900),
    # Proxies whose X-Forwarded-For names the client (CIDRs, comma-separated); none by default.
    Setting("TRUSTED_PROXIES", clients.trusted_proxies, ()),
    # How long a device cookie (set by a successful login) keeps its holder recognised.
    Setting("DEVICE_COOKIE_TTL_SECONDS", positive_int, 30 * 24 * 3600),
    # Sign-up attempts (201 and 409 alike) per client per LOGIN_FAILURE_WINDOW_SECONDS,
    # and sign-ups that found their name taken (409), which tell a name exists.
    Setting("SIGNUPS_PER_CLIENT", positive_int, 1000),
    # 100: far above what a shared address's users hit by picking taken names, and above the
    # 25 sign-ups the integration run's fuzzer sends from its one host client per stack.
    Setting("SIGNUP_CONFLICTS_PER_CLIENT", positive_int, 100),
    # How long a request waits for a hash slot before it gets 503 with Retry-After.
    Setting("HASH_WAIT_SECONDS", positive_float, passwords.HASH_WAIT_SECONDS),
    Setting("DEMO_USERNAME", str, None),
    Setting("DEMO_PASSWORD", str, None),
    Setting("LOG_LEVEL", str.upper, "INFO"),
)

SERVICE = factory.Service(SERVICE_NAME, __name__, SETTINGS, db.init_app, ready_table="users")

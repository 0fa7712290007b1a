"""product-service: the product catalogue; writes are authorised by user-service."""

from __future__ import annotations

from typing import Any

import servicekit.openapi
from flask import Flask
from servicekit import factory
from servicekit.config import Setting, non_negative_float, non_negative_int, positive_float

from product_service import db

SERVICE_NAME = "product-service"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from defaults, then env, then test_config; fail fast if invalid."""
    return factory.create_app(SERVICE, test_config, _setup)


def _setup(app: Flask) -> None:
    from product_service import products, user_client
    from product_service.openapi import build

    user_client.init_app(app)
    app.register_blueprint(products.bp)
    servicekit.openapi.init_app(app, build)


def _check_url(value: str) -> str | None:
    if not value.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    return None


def _check_idle(value: float) -> str | None:
    if not 0 <= value < 60:  # also refuses NaN
        return "must be a number of seconds from 0 (a connection per call) to 60"
    return None


def flag(raw: str) -> bool:
    """Parse 1 (on) or 0 (off)."""
    if raw not in ("0", "1"):
        raise ValueError("must be 0 or 1")
    return raw == "1"


SETTINGS = (
    Setting("DATABASE_PATH", str, "/data/products.db"),
    Setting("USER_SERVICE_URL", str, "http://user-service:5000", _check_url),
    Setting("USER_SERVICE_CONNECT_TIMEOUT", positive_float, 1.0),
    Setting("USER_SERVICE_READ_TIMEOUT", positive_float, 2.0),
    Setting("USER_SERVICE_RETRIES", non_negative_int, 2),
    Setting("USER_SERVICE_RETRY_BACKOFF", non_negative_float, 0.1),
    Setting("USER_SERVICE_KEEPALIVE_IDLE", float, 0.0, _check_idle),
    # HTTP_PROXY and the like are ignored unless this is 1: Docker copies a client's
    # proxy settings into every container, and bearer tokens must not go there.
    Setting("USER_SERVICE_TRUST_ENV_PROXY", flag, False),
    Setting("LOG_LEVEL", str.upper, "INFO"),
)

# /ready reads our own table only: user-service being down must not take us out.
SERVICE = factory.Service(SERVICE_NAME, __name__, SETTINGS, db.init_app, ready_table="products")

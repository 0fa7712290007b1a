"""product-service: the product catalogue; writes are authorised by user-service."""

from __future__ import annotations

from typing import Any

import servicekit
import servicekit.openapi
from flask import Flask
from servicekit import sqlite
from servicekit.config import Setting, load_settings, non_negative_float, non_negative_int, positive_float
from servicekit.health import register_health

SERVICE_NAME = "product-service"


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


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from defaults, then env, then test_config; fail fast if invalid."""
    app = Flask(__name__)
    app.config.from_mapping(load_settings(SETTINGS, overrides=test_config))
    app.config.update(test_config or {})
    servicekit.init_app(app, SERVICE_NAME)

    from product_service import db, products, user_client
    from product_service.openapi import build

    db.init_app(app)
    user_client.init_app(app)
    # Readiness covers only our own database: user-service being down must not take us
    # out.
    register_health(app, lambda: sqlite.ping("products"))
    app.register_blueprint(products.bp)
    servicekit.openapi.init_app(app, build)
    return app

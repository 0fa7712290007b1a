"""Shared plumbing for the Flask services: errors, request ids, logs, health, config."""

from __future__ import annotations

from flask import Flask

from servicekit import errors, http, logging, request_id

__all__ = ["init_app"]

#: Request bodies above this size are refused with 413 before any work is done.
MAX_CONTENT_LENGTH = 1024 * 1024


def init_app(app: Flask, service_name: str) -> None:
    """Attach request ids, access logs and JSON errors: every service alike."""
    app.config["SERVICE_NAME"] = service_name
    # Flask's default is None (unlimited), so setdefault would not do; tests may lower
    # it.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    # Keep the key order we write in responses; sorted keys hide the important field.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logging.configure_logging(app.config.get("LOG_LEVEL", "INFO"))
    # Order matters: the request id must exist before anything logs or fails.
    request_id.init_app(app)
    logging.init_access_log(app)
    app.before_request(http.refuse_oversized)
    errors.init_app(app)

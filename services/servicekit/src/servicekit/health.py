"""Liveness and readiness endpoints for orchestrators and compose healthchecks."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, jsonify

log = logging.getLogger("servicekit.health")
#: What /ready tells any client when a check fails, whatever the cause.
UNAVAILABLE = "a dependency of this service is unavailable"


def register_health(app: Flask, ready_check: Callable[[], None]) -> None:
    """Add GET /health (no I/O) and GET /ready (200 unless ready_check raises)."""

    def health() -> Response:
        # Liveness must not touch dependencies: a slow DB should not get us restarted.
        return jsonify({"status": "ok"})

    def ready() -> tuple[Response, int]:
        try:
            ready_check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            # The reason stays in our log: its text may name files or internals.
            log.warning("readiness check failed", extra={"error": repr(exc)})
            return jsonify({"status": "unavailable", "error": UNAVAILABLE}), 503
        return jsonify({"status": "ready"}), 200

    app.add_url_rule("/health", "health", health, methods=["GET"])
    app.add_url_rule("/ready", "ready", ready, methods=["GET"])

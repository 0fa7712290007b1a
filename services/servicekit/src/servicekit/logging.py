"""One-line JSON logs on stdout, with the service name and request id on every line."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, request

from servicekit import request_id
from servicekit.redaction import redact, redact_field

access_log = logging.getLogger("servicekit.access")

# Attributes every LogRecord has; anything else was passed through `extra=` and is
# logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class JSONFormatter(logging.Formatter):
    """Render a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "request_id": getattr(record, "request_id", None),
            "msg": record.getMessage(),
            "logger": record.name,
        }
        entry["msg"] = redact(entry["msg"])
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = redact_field(key, value)
        if record.exc_info or record.exc_text:
            # json.dumps escapes the newlines, so the traceback stays on one line.
            formatted = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
            entry["exc"] = redact(formatted)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=lambda value: redact(str(value)))


class ContextFilter(logging.Filter):
    """Stamp records with the service and request id of the current Flask context."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add context fields; never drops a record."""
        if not hasattr(record, "service"):
            record.service = (
                current_app.config.get("SERVICE_NAME", current_app.name) if has_app_context() else None
            )
        if not hasattr(record, "request_id"):
            record.request_id = request_id.current()
        return True


class StdoutHandler(logging.Handler):
    """Write to whatever sys.stdout is now (so pytest's capsys sees it too)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line and flush, as containers read stdout unbuffered."""
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never break the request
            self.handleError(record)


def configure_logging(level: str | int = "INFO") -> None:
    """Send all logs to stdout as JSON; calling it again only updates the level."""
    root = logging.getLogger()
    if not any(isinstance(h, StdoutHandler) for h in root.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JSONFormatter())
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


# Liveness probes arrive every second from Docker and in bursts from test
# harnesses: at INFO they would drown the lines that matter.
QUIET_PATHS = frozenset({"/health"})


def _log_access(response: Response) -> Response:
    started = g.get("request_started", time.perf_counter())
    quiet = request.path in QUIET_PATHS and response.status_code == 200
    access_log.log(
        logging.DEBUG if quiet else logging.INFO,
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "remote_addr": request.remote_addr,
        },
    )
    return response


def init_access_log(app: Flask) -> None:
    """Log one line per request; gunicorn's own access log stays off."""
    app.before_request(_start_timer)
    app.after_request(_log_access)

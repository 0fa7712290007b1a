"""X-Request-ID: reuse the caller's if sane, else make one; echo it on all responses."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
# Ids end up in logs and in headers we send on; refuse anything that could inject into
# either.
_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def new_id() -> str:
    """Return a fresh random request id."""
    return uuid.uuid4().hex


def is_valid(value: str | None) -> bool:
    """Tell whether a caller-supplied id is safe to reuse."""
    return value is not None and _VALID.fullmatch(value) is not None


def current() -> str | None:
    """Return the id of the request being handled, or None outside a request."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        # Errors can fire before our before_request hook; still give them an id.
        supplied = request.headers.get(HEADER)
        g.request_id = supplied if is_valid(supplied) else new_id()
    return str(g.request_id)


def _assign() -> None:
    current()


def _echo(response: Response) -> Response:
    request_id = current()
    if request_id is not None:
        response.headers[HEADER] = request_id
    return response


def init_app(app: Flask) -> None:
    """Register the hooks; call before any other before_request hook."""
    app.before_request(_assign)
    app.after_request(_echo)

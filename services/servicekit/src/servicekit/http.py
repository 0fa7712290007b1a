"""Request body parsing that turns every malformed body into a 4xx JSON answer."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from servicekit.errors import APIError, ValidationError


def _reject_constant(name: str) -> None:
    # NaN and Infinity are not JSON; Python accepts them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON")


def refuse_oversized() -> None:
    """Answer 413 from Content-Length alone, before auth or any other work."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"request body is larger than {limit} bytes")


def json_object() -> dict[str, Any]:
    """Return the body as a dict: 415 for a non-JSON Content-Type, 400 for bad JSON."""
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    raw = request.get_data(cache=True)  # raises 413 above MAX_CONTENT_LENGTH
    if not raw.strip():
        raise APIError("request body is empty; expected a JSON object", status_code=400)
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and bad UTF-8; RecursionError deep nesting.
        raise APIError(f"request body is not valid JSON: {exc}", status_code=400) from None
    if not isinstance(data, dict):
        raise APIError(
            f"request body must be a JSON object, not {type(data).__name__}",
            status_code=400,
        )
    return data


def require_string(data: dict[str, Any], field: str) -> str:
    """Return data[field] if it is a string, else raise a ValidationError naming it."""
    value = data.get(field)
    if value is None:
        raise ValidationError(field, f"{field} is required")
    if not isinstance(value, str):
        raise ValidationError(field, f"{field} must be a string")
    return value

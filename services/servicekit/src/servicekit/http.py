"""Request body parsing that turns every malformed body into a 4xx JSON answer."""

from __future__ import annotations

import io
import json
import math
import sys
from typing import Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from servicekit.errors import APIError, ValidationError

#: Objects and arrays nested deeper than this are refused: no field of ours nests.
MAX_DEPTH = 32
_READ_SIZE = 64 * 1024


def _reject_constant(name: str) -> None:
    # NaN and Infinity are not JSON; Python accepts them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(text: str) -> int | float:
    # Python refuses to convert integers of more than sys.get_int_max_str_digits()
    # digits (4300), a guard against quadratic parsing. Such a number is outside every
    # range we accept, so it becomes an infinity and the field's own check names it.
    if len(text) > sys.get_int_max_str_digits():
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def refuse_oversized() -> None:
    """Answer 413 for a body over the limit, before auth or any other work.

    With Content-Length that header decides. A chunked body has no length, and
    werkzeug silently truncates it at the limit, so read at most limit + 1 bytes
    here, refuse if there were more, and hand the rest of the app what was read.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"request body is larger than {limit} bytes")
    if request.content_length is None and "Transfer-Encoding" in request.headers:
        body = _read_at_most(request.environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge(f"request body is larger than {limit} bytes")
        request.environ["wsgi.input"] = io.BytesIO(body)
        request.environ["wsgi.input_terminated"] = True  # it is now: werkzeug may read to its end


def _read_at_most(stream: Any, size: int) -> bytes:
    """Read until the stream ends or size bytes are in: never more than size."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(_READ_SIZE, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def json_object() -> dict[str, Any]:
    """Return the body as a dict: 415 for a non-JSON Content-Type, 400 for bad JSON.

    Bad JSON includes nesting deeper than MAX_DEPTH and strings that are not valid
    Unicode (lone surrogate escapes such as "\\ud800"), which would fail later, in
    the database driver or a hash, as a 500; the 400 names the top-level field.
    """
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    raw = request.get_data(cache=True)  # raises 413 above MAX_CONTENT_LENGTH
    if not raw.strip():
        raise APIError("request body is empty; expected a JSON object", status_code=400)
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and bad UTF-8; RecursionError deep nesting.
        raise APIError(f"request body is not valid JSON: {exc}", status_code=400) from None
    if not isinstance(data, dict):
        raise APIError(
            f"request body must be a JSON object, not {type(data).__name__}",
            status_code=400,
        )
    for key, value in data.items():
        _check_value(_printable(key), key, depth=1)
        _check_value(_printable(key), value, depth=1)
    return data


def _printable(text: str) -> str:
    # A field name is echoed in the error: escape what UTF-8 cannot carry.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_value(field: str, value: Any, depth: int) -> None:
    """Refuse deep nesting and strings that are not valid Unicode, naming the field.

    Iterative, so a value nested as deep as the JSON parser allows cannot
    exhaust the stack here.
    """
    pending: list[tuple[Any, int]] = [(value, depth)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, str):
            if not _is_valid_unicode(item):
                raise ValidationError(field, f"{field} must be valid Unicode (no lone surrogates)")
        elif isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                raise ValidationError(field, f"{field} is nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)


def _is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def require_string(data: dict[str, Any], field: str) -> str:
    """Return data[field] if it is a string, else raise a ValidationError naming it."""
    value = data.get(field)
    if value is None:
        raise ValidationError(field, f"{field} is required")
    if not isinstance(value, str):
        raise ValidationError(field, f"{field} must be a string")
    return value

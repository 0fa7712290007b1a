"""Keyset pagination: `limit` and an opaque `cursor`, the next page in a Link header.

Pages are ordered by id ascending (the seed's order, stable while products are
added: a page never repeats or skips a product). The cursor encodes the last id of
the page before; callers must not build or parse it: it is 8 bytes, big-endian,
base64url without padding, so every string of its pattern is a valid cursor.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from servicekit.errors import ValidationError
from werkzeug.datastructures import MultiDict

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CURSOR_LENGTH = 11  # base64url of 8 bytes, unpadded
CURSOR_PATTERN = f"[A-Za-z0-9_-]{{{CURSOR_LENGTH}}}"
# SQLite's largest rowid; a cursor past it just means "after the last product".
_ID_MAX = 2**63 - 1
_LIMIT_RE = re.compile(r"[0-9]{1,3}")
_CURSOR_RE = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class Page:
    """Which page to read: at most `limit` products with ids above `after`."""

    limit: int = DEFAULT_LIMIT
    after: int = 0


def encode_cursor(last_id: int) -> str:
    """The cursor for the page that follows the product with id last_id."""
    return base64.urlsafe_b64encode(last_id.to_bytes(8, "big")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor continues after; ValidationError naming `cursor` if malformed."""
    if not _CURSOR_RE.fullmatch(cursor):
        raise ValidationError("cursor", "cursor is not valid; copy it from a Link header")
    value = int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big")
    return min(value, _ID_MAX)


def _single(args: MultiDict[str, str], name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise ValidationError(name, f"{name} must be given at most once")
    return values[0] if values else None


def parse(args: MultiDict[str, str]) -> Page:
    """Read `limit` and `cursor` from the query string; 400 naming the one at fault."""
    raw_limit = _single(args, "limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        # Digits only: int() would also take "+5", " 5", "1_0" and other scripts' digits.
        if not _LIMIT_RE.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
        limit = int(raw_limit)
    raw_cursor = _single(args, "cursor")
    after = 0 if raw_cursor is None else decode_cursor(raw_cursor)
    return Page(limit=limit, after=after)


def next_link(path: str, page: Page, last_id: int) -> str:
    """The RFC 8288 Link header value for the page after last_id, relative to the service."""
    query = urlencode({"limit": page.limit, "cursor": encode_cursor(last_id)})
    return f'<{path}?{query}>; rel="next"'

"""Keyset pagination: `limit` and an opaque `cursor`, the next page in a Link header.

Pages are ordered by id ascending (the seed's order, stable while products are
added). The cursor encodes the last id of the page before; callers must not build
or parse it: it is 8 bytes, big-endian, base64url without padding.
"""

from __future__ import annotations

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CURSOR_LENGTH = 11  # base64url of 8 bytes, unpadded
CURSOR_PATTERN = f"[A-Za-z0-9_-]{{{CURSOR_LENGTH}}}"

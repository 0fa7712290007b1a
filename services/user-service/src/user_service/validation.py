"""Rules for usernames and passwords, shared by sign-up, login and the OpenAPI document."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from servicekit.errors import ValidationError
from servicekit.http import require_string

USERNAME_PATTERN = r"[A-Za-z0-9_.-]{3,64}"
USERNAME_RE = re.compile(USERNAME_PATTERN)
USERNAME_MAX = 64
PASSWORD_MIN, PASSWORD_MAX = 8, 256


def fold(username: str) -> str:
    """The form two usernames share when they are one account: NFKC, then case-folded.

    "Alice", "ALICE" and the full-width "\uff21lice" are all "alice" (Unicode's
    identifier caseless matching, UAX #31 / UTS #39): one account, whatever the case.
    """
    return unicodedata.normalize("NFKC", username).casefold()


def credentials(data: dict[str, Any], *, strict: bool) -> tuple[str, str]:
    """Return (username, password); strict applies sign-up rules, else presence and size."""
    username = require_string(data, "username")
    if not username:
        raise ValidationError("username", "username must not be empty")
    # Login checks only the size: no longer name can exist, and it caps what the
    # throttle stores per name.
    if len(username) > USERNAME_MAX:
        raise ValidationError("username", f"username must be at most {USERNAME_MAX} characters")
    if strict:  # stored in its compatibility form: a full-width letter is the letter
        username = unicodedata.normalize("NFKC", username)
    if strict and not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            "username",
            "username must be 3-64 characters of letters, digits, '_', '.' or '-'",
        )
    password = require_string(data, "password")
    if not password:
        raise ValidationError("password", "password must not be empty")
    # The upper bound also applies at login: it caps the cost of hashing attacker input.
    if len(password) > PASSWORD_MAX or (strict and len(password) < PASSWORD_MIN):
        raise ValidationError(
            "password",
            f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters long",
        )
    return username, password

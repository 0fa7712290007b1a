"""Keep credentials out of log lines: bearer/basic credentials, JWTs, sensitive fields.

The services never log bodies or the Authorization header; this is the second
line of defence for what slips through anyway: a server message quoting a
malformed header line, an exception text, a field someone adds to a log call.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s'\",;]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
#: Log fields whose value is never written, whatever it is.
SENSITIVE_FIELD = re.compile(r"(?i)pass|secret|token|authorization|cookie|credential")


def redact(text: str) -> str:
    """The text with credentials after Bearer/Basic and anything JWT-shaped replaced."""
    return _JWT.sub(REDACTED, _CREDENTIALS.sub(rf"\1\2{REDACTED}", text))


def redact_field(name: str, value: Any) -> Any:
    """A log field's value as it may be written."""
    if SENSITIVE_FIELD.search(name):
        return REDACTED
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Redact a record's message in place (for loggers whose formatting is not ours)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message if it holds credentials; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

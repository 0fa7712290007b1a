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
    """A log field's value as it may be written: nothing under a sensitive name, and
    inside containers, bytes and exceptions the same rules as for text."""
    if SENSITIVE_FIELD.search(name):
        return REDACTED
    return redact_value(value)


def redact_value(value: Any) -> Any:
    """Any value made safe to log: dicts by their keys' names, lists item by item, the rest as text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(key): redact_field(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    # Whatever else: written as its text (json.dumps would call str() anyway).
    return redact(value if isinstance(value, str) else str(value))


class RedactingFilter(logging.Filter):
    """Redact a record in place for loggers whose formatting is not ours: the message,
    its traceback and stack (as the formatter will print them) and non-standard fields."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite what could hold credentials; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set: the redacted traceback, then.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

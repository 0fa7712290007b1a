"""Keep credentials out of log lines: auth schemes, JWTs, URL userinfo, sensitive fields.

The services never log bodies or the Authorization header; this is the second
line of defence for what slips through anyway: a server message quoting a
malformed header line, an exception text, a URL with a password in it, a JSON
body quoted in an error, a field someone adds to a log call.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
#: Names whose value is never written, as log fields and as keys inside text
#: (`"password": "..."`, `api_key=...`); `auth`, `authorization` but not `author`.
_SENSITIVE = r"pass|pwd|secret|token|auth(?!or(?!i))|cookie|credential|api[-_]?key|private[-_]?key"
SENSITIVE_FIELD = re.compile(rf"(?i){_SENSITIVE}")
# The credentials after a scheme that carries one token (RFC 7235 token68 and the
# like): Bearer and Basic, whatever follows them.
_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s'\",;]+")
# Token (Django REST framework, GitHub) is also a word of prose ("token has
# expired"): what follows it is redacted when it looks like one (8+ characters, a digit).
_TOKEN_SCHEME = re.compile(r"(?i)\b(token)(\s+)(?=[^\s'\",;]*\d)[^\s'\",;]{8,}")
# Digest's credentials are `name=value` pairs, quoted or not, separated by commas.
_DIGEST = re.compile(
    r"""(?i)\b(digest)(\s+)[\w-]+=(?:"[^"]*"|[^\s,'"]*)(?:\s*,\s*[\w-]+=(?:"[^"]*"|[^\s,'"]*))*"""
)
# An Authorization header written out: whatever its scheme, the rest of the value.
_AUTHORIZATION = re.compile(r"""(?i)\b((?:proxy-)?authorization\s*[:=]\s*[A-Za-z][\w.+-]*)(\s+)[^'"\r\n]+""")
# A PEM private key, whole (its lines may be joined by escaped newlines).
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# scheme://userinfo@host: the whole userinfo (a token is often the user name).
_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://)[^/?#\s@'\"]+@")
# A sensitive key and its value inside text: JSON (also escaped inside a JSON string),
# Python reprs, query strings and form bodies.
#
# Every pattern that scans a run of word characters starts only where such a run
# starts (a lookbehind): started inside the run too, each start rescans the rest of
# it, and a long run (a 4,000-digit id in a logged path) took seconds per line.
_KEYED_VALUE = re.compile(
    rf"""(?ix)
    (?P<key>\\?["']?(?<![\w-])[\w-]*(?:{_SENSITIVE})[\w-]*\\?["']?\s*[:=]\s*)
    (?P<value>
        \\"(?:[^"\\]|\\[^"])*\\"      # \"...\" inside a JSON string
      | "(?:[^"\\]|\\.)*"               # "..."
      | '(?:[^'\\]|\\.)*'               # '...'
      | (?!\S+\s+\[redacted\])            # (not a scheme already redacted after)
        [^\s&,;'"}})\]]+                  # unquoted, up to a separator
    )
    """
)


def _keyed(match: re.Match[str]) -> str:
    value = match["value"]
    quote = value[:2] if value.startswith('\\"') else value[:1] if value[:1] in "\"'" else ""
    return f"{match['key']}{quote}{REDACTED}{quote}"


def redact(text: str) -> str:
    """The text with credentials replaced: after an auth scheme or in an Authorization
    header, JWT-shaped, in URL userinfo, and the values of sensitive keys."""
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _DIGEST.sub(rf"\1\2{REDACTED}", text)  # before its quotes end the header's value
    text = _AUTHORIZATION.sub(rf"\1\2{REDACTED}", text)
    text = _CREDENTIALS.sub(rf"\1\2{REDACTED}", text)
    text = _TOKEN_SCHEME.sub(rf"\1\2{REDACTED}", text)
    text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _KEYED_VALUE.sub(_keyed, text)
    return _JWT.sub(REDACTED, text)


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

"""Credentials never reach a log line: the redaction helpers, the formatter, gunicorn's log."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from servicekit.gunicorn_logging import RedactingLogger
from servicekit.logging import JSONFormatter
from servicekit.redaction import REDACTED, redact, redact_field

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"Authorization: Bearer {JWT}", f"Authorization: Bearer {REDACTED}", id="bearer"),
        pytest.param("authorization: bearer opaque-123", f"authorization: bearer {REDACTED}", id="lowercase"),
        pytest.param("Basic YWxpY2U6cHc=, rest", f"Basic {REDACTED}, rest", id="basic"),
        pytest.param(f"token {JWT} in text", f"token {REDACTED} in text", id="bare-jwt"),
        pytest.param(f"'Authorization Bearer {JWT}'", f"'Authorization Bearer {REDACTED}'", id="quoted-line"),
        pytest.param("GET /products?limit=5 200", "GET /products?limit=5 200", id="harmless"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("name", ["password", "new_password", "access_token", "Authorization", "SECRET_KEY"])
def test_sensitive_fields_are_never_written(name: str) -> None:
    assert redact_field(name, "anything at all") == REDACTED


def test_formatter_redacts_message_fields_and_traceback() -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError as error:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "saw Bearer %s", (JWT,), None)
        record.exc_info = (type(error), error, error.__traceback__)
    record.password = "hunter2-hunter2"
    record.detail = f"header was Bearer {JWT}"
    line = JSONFormatter().format(record)
    assert JWT not in line
    assert "hunter2" not in line
    entry = json.loads(line)
    assert entry["msg"] == f"saw Bearer {REDACTED}"
    assert entry["password"] == REDACTED


def test_gunicorn_error_log_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    cfg = SimpleNamespace(
        loglevel="info",
        errorlog="-",
        accesslog=None,
        syslog=False,
        logconfig=None,
        logconfig_dict={},
        logconfig_json=None,
        capture_output=False,
        disable_redirect_access_to_syslog=False,
        user=0,
        group=0,
    )
    logger = RedactingLogger(cfg)
    logger.error_log.propagate = True  # let caplog see it
    with caplog.at_level(logging.WARNING, logger="gunicorn.error"):
        logger.warning(f"Invalid request from ip=1.2.3.4: Invalid HTTP Header: 'Authorization Bearer {JWT}'")
    assert JWT not in caplog.text
    assert REDACTED in caplog.text

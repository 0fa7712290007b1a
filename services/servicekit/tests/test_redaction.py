"""Credentials never reach a log line: the redaction helpers, the formatter, gunicorn's log."""

from __future__ import annotations

import json
import logging
import sys
from types import SimpleNamespace

import pytest
from servicekit.gunicorn_logging import RedactingLogger
from servicekit.logging import JSONFormatter
from servicekit.redaction import REDACTED, RedactingFilter, redact, redact_field

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


def test_cookie_fields_are_never_written() -> None:
    assert redact_field("Cookie", "session=abc123") == REDACTED
    assert redact_field("set_cookie", "session=abc123") == REDACTED


class Opaque:
    """An object whose text holds a credential."""

    def __str__(self) -> str:
        return f"Authorization: Basic {JWT}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"password": "hunter2", "note": f"Bearer {JWT}"},
            {"password": REDACTED, "note": f"Bearer {REDACTED}"},
            id="dict",
        ),
        pytest.param({"outer": {"api_token": "t0k"}}, {"outer": {"api_token": REDACTED}}, id="nested-dict"),
        pytest.param([f"x {JWT}", 3, None], [f"x {REDACTED}", 3, None], id="list"),
        pytest.param((JWT,), [REDACTED], id="tuple"),
        pytest.param(f"Bearer {JWT}".encode(), f"Bearer {REDACTED}", id="bytes"),
        pytest.param(b"\xff Bearer abc", f"\\xff Bearer {REDACTED}", id="bytes-not-utf8"),
        pytest.param(ValueError(f"bad {JWT}"), f"ValueError: bad {REDACTED}", id="exception"),
        pytest.param(42, 42, id="int-as-is"),
        pytest.param(Opaque(), f"Authorization: Basic {REDACTED}", id="any-object-by-its-text"),
        pytest.param(True, True, id="bool-as-is"),
    ],
)
def test_fields_that_are_not_strings_are_redacted_inside(value: object, expected: object) -> None:
    assert redact_field("detail", value) == expected


def test_formatter_redacts_every_kind_of_field() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "fields", None, None)
    record.headers = {"Authorization": f"Bearer {JWT}", "Cookie": "s=1", "Accept": "*/*"}
    record.body = f'{{"access": "{JWT}"}}'.encode()
    record.opaque = Opaque()
    record.error = RuntimeError(f"upstream said Bearer {JWT}")
    line = JSONFormatter().format(record)
    assert JWT not in line
    assert "s=1" not in line
    assert json.loads(line)["headers"]["Accept"] == "*/*"


def test_formatter_redacts_a_traceback_another_handler_already_formatted() -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    logging.Formatter().format(record)  # caches the raw traceback in record.exc_text
    record.exc_info = None
    line = JSONFormatter().format(record)
    assert JWT not in line
    assert "ValueError" in json.loads(line)["exc"]


def test_redacting_filter_scrubs_tracebacks_and_stacks_for_foreign_formatters() -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        record = logging.LogRecord(
            "gunicorn.error", logging.ERROR, __file__, 1, "Error handling request", None, sys.exc_info()
        )
    record.stack_info = f"Stack (most recent call last):\n  token = {JWT!r}"
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)  # gunicorn's formatting is logging's own
    assert JWT not in text
    assert "ValueError: bad token" in text
    assert f"token = '{REDACTED}'" in text  # the stack is kept, redacted

"""Credentials never reach a log line: the redaction helpers, the formatter, gunicorn's log."""

from __future__ import annotations

import json
import logging
import sys
import time
from types import SimpleNamespace

import pytest
from servicekit.gunicorn_logging import RedactingLogger
from servicekit.logging import JSONFormatter
from servicekit.redaction import REDACTED, RedactingFilter, redact, redact_field

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
DRF_TOKEN = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
DIGEST_RESPONSE = "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"Authorization: Bearer {JWT}", f"Authorization: Bearer {REDACTED}", id="bearer"),
        pytest.param("authorization: bearer opaque-123", f"authorization: bearer {REDACTED}", id="lowercase"),
        pytest.param("Basic YWxpY2U6cHc=, rest", f"Basic {REDACTED}, rest", id="basic"),
        pytest.param(f"token {JWT} in text", f"token {REDACTED} in text", id="bare-jwt"),
        pytest.param(f"'Authorization Bearer {JWT}'", f"'Authorization Bearer {REDACTED}'", id="quoted-line"),
        pytest.param("GET /products?limit=5 200", "GET /products?limit=5 200", id="harmless"),
        # Issue 24 item 6: what the redactor missed.
        pytest.param(
            f"Authorization: Token {DRF_TOKEN}", f"Authorization: Token {REDACTED}", id="token-scheme-header"
        ),
        pytest.param(
            f"'Authorization Token {DRF_TOKEN}'", f"'Authorization Token {REDACTED}'", id="token-quoted"
        ),
        pytest.param(f"token {DRF_TOKEN}, next", f"token {REDACTED}, next", id="token-scheme-lowercase"),
        pytest.param("the token has expired", "the token has expired", id="token-as-a-word"),
        pytest.param("token abcdefghij", "token abcdefghij", id="token-word-without-digits"),
        pytest.param("Token abc1", "Token abc1", id="token-too-short"),
        pytest.param(f"Token {DRF_TOKEN[:8]}", f"Token {REDACTED}", id="token-of-exactly-8"),
        pytest.param(
            f'Authorization: Digest username="bob", realm="api", nonce=abc, response="{DIGEST_RESPONSE}"',
            f"Authorization: Digest {REDACTED}",
            id="digest-header",
        ),
        pytest.param(
            f'\'Authorization Digest username="bob", response="{DIGEST_RESPONSE}"\' end',
            f"'Authorization Digest {REDACTED}' end",
            id="digest-quoted-line",
        ),
        pytest.param(
            "Proxy-Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830, Signature=5d672d79",
            f"Proxy-Authorization: AWS4-HMAC-SHA256 {REDACTED}",
            id="any-scheme-in-an-authorization-header",
        ),
        pytest.param(
            "authorization=Foo bar-baz\nnext line",
            f"authorization=Foo {REDACTED}\nnext line",
            id="header-ends-at-eol",
        ),
        pytest.param(
            "connect postgresql://app:hunter2@db:5432/app failed",
            f"connect postgresql://{REDACTED}@db:5432/app failed",
            id="url-userinfo",
        ),
        pytest.param(
            "clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
            f"clone https://{REDACTED}@github.com/o/r",
            id="url-token-as-user",
        ),
        pytest.param("see https://example.com/a@b", "see https://example.com/a@b", id="at-sign-in-path"),
        pytest.param("mail bob@example.com", "mail bob@example.com", id="email-address"),
        pytest.param(
            '{"username": "bob", "password": "hunter2"}',
            f'{{"username": "bob", "password": "{REDACTED}"}}',
            id="json-password",
        ),
        pytest.param(
            '{"password":"hun\\"ter2", "x": 1}',
            f'{{"password":"{REDACTED}", "x": 1}}',
            id="json-escaped-quote-in-value",
        ),
        pytest.param(
            'body was "{\\"pwd\\": \\"hunter2\\", \\"n\\": 1}"',
            f'body was "{{\\"pwd\\": \\"{REDACTED}\\", \\"n\\": 1}}"',
            id="json-inside-a-json-string",
        ),
        pytest.param("{'api_key': 'k-123'}", f"{{'api_key': '{REDACTED}'}}", id="python-repr-api-key"),
        pytest.param("X-Api-Key: abc123def", f"X-Api-Key: {REDACTED}", id="x-api-key-header"),
        pytest.param("GET /x?apikey=abc&page=2", f"GET /x?apikey={REDACTED}&page=2", id="query-apikey"),
        pytest.param("auth=abc; pwd=hunter2", f"auth={REDACTED}; pwd={REDACTED}", id="form-auth-and-pwd"),
        pytest.param("author=bob", "author=bob", id="author-is-not-auth"),
        pytest.param("password=Xray-7 ok", f"password={REDACTED} ok", id="unquoted-value-starting-with-x"),
        pytest.param("{private_key: 'abc'}", f"{{private_key: '{REDACTED}'}}", id="private-key-field"),
        pytest.param(
            "key=-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEE\\n-----END EC PRIVATE KEY----- loaded",
            f"key={REDACTED} loaded",
            id="pem-private-key",
        ),
        pytest.param(
            "password hash upgrade skipped: no hash slot came free",
            "password hash upgrade skipped: no hash slot came free",
            id="a-sensitive-word-without-a-value",
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "new_password",
        "access_token",
        "Authorization",
        "SECRET_KEY",
        "pwd",
        "api_key",
        "apikey",
        "X-Api-Key",
        "auth",
        "oauth_state",
        "private_key",
        "privateKey",
    ],
)
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


@pytest.mark.parametrize("name", ["author", "authored_by", "username", "status", "path"])
def test_other_fields_are_written(name: str) -> None:
    assert redact_field(name, "bob") == "bob"


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


# Runs a client controls in a logged value (a path, a header quoted in an error). Each
# pattern once rescanned the rest of a word-character run from every position in it:
# 16,000 digits took 14 s per line, so one request could stall a worker.
LONG_RUNS = {
    "digits": "9" * 65_536,
    "letters": "a" * 65_536,
    "dotted-scheme-characters": "a." * 32_768,
    "dashed-jwt-starts": "eyJ-" * 16_384,
    "words-with-underscores": "ab_" * 21_845,
    "a-sensitive-word-in-a-run": "9" * 32_768 + "password" + "9" * 32_768,
}
# Linear scans of 64 KiB take milliseconds; the old quadratic ones took minutes. The
# bound is the margin between, not a figure (BENCHMARKS.md has none for this).
REDACTION_BOUND = 1.0  # seconds


@pytest.mark.parametrize("text", LONG_RUNS.values(), ids=LONG_RUNS.keys())
def test_a_long_run_of_word_characters_is_redacted_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < REDACTION_BOUND


def test_a_key_inside_a_long_run_is_still_redacted() -> None:
    text = "9" * 10_000 + "_password=hunter2 " + "tail"

    assert redact(text) == "9" * 10_000 + "_password=[redacted] tail"

"""servicekit pieces that are easiest to check outside a full service."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from servicekit import request_id
from servicekit.config import (
    REQUIRED,
    ConfigError,
    Setting,
    load_settings,
    non_negative_int,
    positive_float,
)
from servicekit.logging import JSONFormatter, StdoutHandler, configure_logging
from servicekit.openapi import Info, document, operation, tagged

SETTINGS = (
    Setting("NEEDED", str),
    Setting("TIMEOUT", positive_float, 1.0),
    Setting("RETRIES", non_negative_int, 2),
)


@pytest.mark.parametrize(
    ("environ", "overrides", "expected"),
    [
        pytest.param(
            {"NEEDED": "x"},
            {},
            {"NEEDED": "x", "TIMEOUT": 1.0, "RETRIES": 2},
            id="defaults",
        ),
        pytest.param(
            {"NEEDED": "x", "TIMEOUT": "0.5", "RETRIES": "0"},
            {},
            {"NEEDED": "x", "TIMEOUT": 0.5, "RETRIES": 0},
            id="env",
        ),
        pytest.param(
            {"TIMEOUT": "9"},
            {"NEEDED": "y", "TIMEOUT": 0.3},
            {"NEEDED": "y", "TIMEOUT": 0.3, "RETRIES": 2},
            id="overrides-win",
        ),
        pytest.param(
            {"NEEDED": "x", "RETRIES": ""},
            {},
            {"NEEDED": "x", "TIMEOUT": 1.0, "RETRIES": 2},
            id="empty-is-unset",
        ),
    ],
)
def test_load_settings(environ: dict[str, str], overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    assert load_settings(SETTINGS, environ, overrides) == expected


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        pytest.param({}, "NEEDED", id="required-missing"),
        pytest.param({"NEEDED": "x", "TIMEOUT": "fast"}, "TIMEOUT", id="float-garbage"),
        pytest.param({"NEEDED": "x", "TIMEOUT": "0"}, "TIMEOUT", id="float-zero"),
        pytest.param({"NEEDED": "x", "TIMEOUT": "nan"}, "TIMEOUT", id="float-nan"),
        pytest.param({"NEEDED": "x", "TIMEOUT": "inf"}, "TIMEOUT", id="float-inf"),
        pytest.param({"NEEDED": "x", "RETRIES": "-1"}, "RETRIES", id="int-negative"),
        pytest.param({"NEEDED": "x", "RETRIES": "1.5"}, "RETRIES", id="int-fraction"),
    ],
)
def test_load_settings_fails_naming_the_variable(environ: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(SETTINGS, environ)
    assert info.value.name == name
    assert str(info.value).startswith(f"configuration error: {name} ")


def test_required_marker_is_distinct_from_none() -> None:
    assert Setting("X", str, None).default is not REQUIRED


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("abc", True, id="plain"),
        pytest.param("A.b-c_9", True, id="punctuation"),
        pytest.param("a" * 128, True, id="max"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("", False, id="empty"),
        pytest.param("a b", False, id="space"),
        pytest.param("a\nb", False, id="newline"),
        pytest.param("a/b", False, id="slash"),
        pytest.param(None, False, id="none"),
    ],
)
def test_request_id_validation(value: str | None, valid: bool) -> None:
    assert request_id.is_valid(value) is valid


def test_formatter_writes_one_line_with_extras_and_traceback() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
        import sys

        record.exc_info = sys.exc_info()
    record.service = "svc"
    record.request_id = "rid"
    record.status = 503
    line = JSONFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "failed x"
    assert (entry["service"], entry["request_id"], entry["status"]) == (
        "svc",
        "rid",
        503,
    )
    assert "ValueError: bad" in entry["exc"]


def test_configure_logging_is_idempotent() -> None:
    configure_logging("INFO")
    configure_logging("DEBUG")
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, StdoutHandler)]
    assert len(handlers) == 1
    assert logging.getLogger().level == logging.DEBUG
    configure_logging("INFO")


def test_logging_outside_a_request_has_null_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    logging.getLogger("servicekit.test").info("hello", extra={"k": 1})
    entry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (entry["msg"], entry["k"], entry["service"], entry["request_id"]) == (
        "hello",
        1,
        None,
        None,
    )


@pytest.mark.parametrize(("bearer", "declared"), [(False, False), (True, True)], ids=["open", "bearer"])
def test_document_declares_the_bearer_scheme_exactly_when_an_operation_needs_it(
    bearer: bool, declared: bool
) -> None:
    paths = tagged("things", {"/things": {"get": operation("listThings", "List.", {}, bearer=bearer)}})
    doc = document(Info("demo", "1.0.0", "A demo."), paths=paths, schemas={})
    assert ("securitySchemes" in doc["components"]) is declared
    assert doc["info"] == {"title": "demo", "version": "1.0.0", "description": "A demo."}
    assert list(doc["paths"]["/things"]["get"])[:3] == ["operationId", "summary", "tags"]
    assert doc["paths"]["/things"]["get"]["tags"] == ["things"]
    assert doc["paths"]["/health"]["get"]["tags"] == ["operations"]

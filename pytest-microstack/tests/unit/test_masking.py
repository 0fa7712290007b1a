"""pytest_microstack._reports.masking: secrets hidden by key and by value, in data and in text."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pytest_microstack._reports.masking import (
    MASK,
    Masker,
    MaskingFormatter,
    MaskingStream,
    is_sensitive,
    mask_file,
    mask_handler,
    run_secret_values,
    secret_values,
)

SECRET = "s3cr3t-value-of-the-run"


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("USER_SERVICE_SECRET_KEY", True),
        ("API_TOKEN", True),
        ("db_password", True),
        ("SSH_KEY", True),
        ("DB_PASS", True),
        ("MYSQL_PWD", True),
        ("mysql.pwd", True),
        ("API_AUTH", True),
        ("HTTP_AUTHORIZATION", True),
        ("GREETING", False),
        ("DATABASE_PATH", False),
        # The shell's working directories: paths every report names, no secret.
        ("PWD", False),
        ("OLDPWD", False),
        ("PWDX", False),
    ],
)
def test_keys_that_look_secret(key: str, sensitive: bool) -> None:
    assert is_sensitive(key) is sensitive


def test_secret_values_are_the_declared_secrets_and_sensitive_variables() -> None:
    environment = {"RUN_SECRET": SECRET, "API_TOKEN": "token-1234", "GREETING": "hello there", "PIN_KEY": "1"}

    values = secret_values(environment, ["RUN_SECRET"])

    assert values == {SECRET, "token-1234"}  # "1" is too short to replace everywhere


def test_run_secret_values_add_the_hosts_sensitive_variables() -> None:
    host = {"DB_PASS": "host-db-pass", "MYSQL_PWD": "host-mysql-pwd", "PWD": "/work/project", "HOME": "/root"}

    values = run_secret_values({"RUN_SECRET": SECRET}, ["RUN_SECRET"], host)

    assert values == {SECRET, "host-db-pass", "host-mysql-pwd"}


def test_run_secret_values_read_this_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_AUTH", "host-api-auth-value")

    assert "host-api-auth-value" in run_secret_values({}, [])


def test_text_has_every_secret_value_replaced() -> None:
    masker = Masker([SECRET, "other-secret"])

    assert masker.text(f"started with {SECRET} and other-secret") == f"started with {MASK} and {MASK}"


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = Masker(["abcd", "abcdefgh"])

    assert masker.text("x abcdefgh y") == f"x {MASK} y"


def test_compose_config_is_masked_by_key_and_by_value() -> None:
    config: dict[str, Any] = {
        "services": {
            "web": {
                "environment": {
                    "SECRET_KEY": "from-a-fixed-file",
                    "GREETING": "hello",
                    "URL": f"http://u:{SECRET}@db",
                },
                "command": ["serve", "--port", "8080"],
                "healthcheck": {"retries": 3},
            }
        },
        "secrets": {"db_password": {"file": "./db.txt"}},
    }

    masked = Masker([SECRET]).data(config)

    web = masked["services"]["web"]
    assert web["environment"] == {"SECRET_KEY": MASK, "GREETING": "hello", "URL": f"http://u:{MASK}@db"}
    assert web["command"] == ["serve", "--port", "8080"]
    assert web["healthcheck"] == {"retries": 3}
    assert masked["secrets"] == {"db_password": {"file": MASK}}
    assert config["services"]["web"]["environment"]["SECRET_KEY"] == "from-a-fixed-file"  # a copy


def test_inspect_environment_lists_are_masked() -> None:
    attrs = {"Config": {"Env": [f"RUN_SECRET={SECRET}", "API_TOKEN=abc123456", "PATH=/usr/bin", "ODD"]}}

    masked = Masker([SECRET]).data(attrs)

    assert masked["Config"]["Env"] == [f"RUN_SECRET={MASK}", f"API_TOKEN={MASK}", "PATH=/usr/bin", "ODD"]


def failing_report(secret: str, style: Any = "long") -> pytest.TestReport:
    """A real TestReport of a failure whose text holds `secret` everywhere pytest puts text."""

    def inner(token: str) -> None:
        local_copy = token  # shown with --showlocals
        raise KeyError(f"first {local_copy}")

    try:
        try:
            inner(secret)
        except KeyError as error:
            raise RuntimeError(f"then {secret}") from error
    except RuntimeError:
        info = pytest.ExceptionInfo.from_current()
    longrepr = info.getrepr(showlocals=True, style=style, chain=True)
    sections = [("Captured stdout call", f"out {secret}\n"), ("Captured log call", f"log {secret}\n")]
    return pytest.TestReport("t.py::test_x", ("t.py", 1, "test_x"), {}, "failed", longrepr, "call", sections)


def test_report_masks_every_string_of_the_longrepr_and_the_sections() -> None:
    report = failing_report(SECRET)
    assert SECRET in report.longreprtext

    Masker([SECRET]).report(report)

    text = report.longreprtext
    assert SECRET not in text
    assert f"first {MASK}" in text, "the cause, first in the chain"
    assert f"then {MASK}" in text
    assert f"local_copy = '{MASK}'" in text, "locals"
    assert report.sections == [
        ("Captured stdout call", f"out {MASK}\n"),
        ("Captured log call", f"log {MASK}\n"),
    ]
    crash = getattr(report.longrepr, "reprcrash", None)
    assert crash is not None
    assert SECRET not in crash.message, "the one-line message JUnit's failure tag uses"


def test_report_keeps_the_traceback_style_even_when_a_secret_spells_it() -> None:
    report = failing_report("short", style="short")  # a secret that is also a style's name

    Masker(["short"]).report(report)

    traceback = getattr(report.longrepr, "reprtraceback", None)
    assert traceback is not None
    assert traceback.style == "short", "a setting, not text: masking it would change the rendering"
    assert {entry.style for entry in traceback.reprentries} == {"short"}
    assert "first ***" in report.longreprtext


@pytest.mark.parametrize(
    "longrepr",
    [
        pytest.param(f"collection failed: {SECRET}", id="text"),
        pytest.param(("t.py", 3, f"Skipped: {SECRET}"), id="skip-tuple"),
    ],
)
def test_report_masks_text_and_skip_tuples(longrepr: Any) -> None:
    report = pytest.TestReport("t.py::test_x", ("t.py", 1, "test_x"), {}, "skipped", longrepr, "call")

    Masker([SECRET]).report(report)

    assert report.longrepr == (
        f"collection failed: {MASK}" if isinstance(longrepr, str) else ("t.py", 3, f"Skipped: {MASK}")
    )


def test_report_without_longrepr_masks_its_sections() -> None:
    report = pytest.TestReport("t.py::test_x", ("t.py", 1, "test_x"), {}, "passed", None, "call")
    report.sections = [("Captured stderr call", f"err {SECRET}")]

    Masker([SECRET]).report(report)

    assert report.longrepr is None
    assert report.sections == [("Captured stderr call", f"err {MASK}")]


def test_values_under_a_sensitive_key_are_masked_in_lists_and_as_numbers_but_not_flags() -> None:
    data = {
        "API_TOKENS": ["token-one", "token-two", {"nested": "deep-value"}],
        "DB_PASSWORD": 12345678,
        "MYSQL_PWD": 3.5,
        "USE_AUTH": True,  # a switch, not a secret: left readable
        "PORTS": [5000, "5001"],
    }

    assert Masker([]).data(data) == {
        "API_TOKENS": [MASK, MASK, {"nested": MASK}],
        "DB_PASSWORD": MASK,
        "MYSQL_PWD": MASK,
        "USE_AUTH": True,
        "PORTS": [5000, "5001"],
    }


# --- issue 24 §8: every channel -----------------------------------------------------------------


def test_values_added_later_are_masked_longest_first() -> None:
    masker = Masker(["abcd"])
    masker.add(["abcdefgh", "xy", "abcd"])

    assert masker.values == ["abcdefgh", "abcd"]
    assert masker.text("abcdefgh abcd xy") == f"{MASK} {MASK} xy"


def test_the_escaped_masker_knows_each_value_as_xml_writes_it() -> None:
    masker = Masker(['a&b<c>"d'])
    escaped = masker.escaped()

    assert escaped.text('x a&amp;b&lt;c&gt;"d y') == f"x {MASK} y"
    assert escaped.text("x a&amp;b&lt;c&gt;&quot;d y") == f"x {MASK} y"
    assert escaped.text('x a&b<c>"d y') == f"x {MASK} y"
    assert Masker(["line\none"]).escaped().text("line&#10;one") == MASK


def test_a_report_s_xfail_reason_and_recorded_properties_are_masked() -> None:
    report = SimpleNamespace(
        longrepr=None,
        sections=[],
        wasxfail="flaky with s3cret-value",
        user_properties=[("db", "s3cret-value"), ("count", 3), ("list", ["s3cret-value"]), ("plain", "ok")],
    )

    Masker(["s3cret-value"]).report(report)

    assert report.wasxfail == f"flaky with {MASK}"
    assert report.user_properties == [("db", MASK), ("count", 3), ("list", f"['{MASK}']"), ("plain", "ok")]


def test_a_report_without_xfail_or_properties_is_left_so() -> None:
    report = SimpleNamespace(longrepr=None, sections=[], wasxfail="", user_properties=[])
    Masker(["s3cret-value"]).report(report)
    assert (report.wasxfail, report.user_properties) == ("", [])


def test_a_recorded_warning_is_masked_in_its_text_and_source_line() -> None:
    import warnings

    message = warnings.WarningMessage(
        UserWarning("uses s3cret-value", 7), UserWarning, "t.py", 3, line="warn('s3cret-value')"
    )
    Masker(["s3cret-value"]).warning(message)

    assert str(message.message) == f"('uses {MASK}', 7)"
    assert message.line == f"warn('{MASK}')"


def test_a_warning_without_a_secret_keeps_its_arguments() -> None:
    import warnings

    warning = UserWarning("plain", 7)
    message = warnings.WarningMessage(warning, UserWarning, "t.py", 3, line="warn('plain')")
    Masker(["s3cret-value"]).warning(message)
    assert warning.args == ("plain", 7)
    assert message.line == "warn('plain')"


def test_a_warning_with_the_secret_in_a_non_string_argument_is_masked_whole() -> None:
    import warnings

    message = warnings.WarningMessage(UserWarning(["s3cret-value"]), UserWarning, "t.py", 3)
    Masker(["s3cret-value"]).warning(message)
    assert str(message.message) == f"['{MASK}']"
    assert message.line is None


def test_a_warning_given_as_text_is_masked() -> None:
    import warnings

    message = warnings.WarningMessage("s3cret-value", UserWarning, "t.py", 3)
    Masker(["s3cret-value"]).warning(message)
    assert message.message == MASK


def test_a_masked_handler_writes_masked_text_but_the_record_keeps_its_value() -> None:
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    masker = Masker(["s3cret-value"])
    mask_handler(handler, masker)
    mask_handler(handler, masker)  # idempotent: wrapped once
    record = logging.LogRecord("app", logging.INFO, "f.py", 1, "key %s", ("s3cret-value",), None)

    handler.handle(record)

    assert stream.getvalue() == f"INFO key {MASK}\n"
    assert record.getMessage() == "key s3cret-value", "caplog sees the record itself"
    formatter = handler.formatter
    assert isinstance(formatter, MaskingFormatter)
    assert not isinstance(formatter.inner, MaskingFormatter)


def test_a_handler_without_a_formatter_gets_the_default_one_masked() -> None:
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    mask_handler(handler, Masker(["s3cret-value"]))
    handler.handle(logging.LogRecord("app", logging.INFO, "f.py", 1, "s3cret-value here", None, None))
    assert stream.getvalue() == f"{MASK} here\n"


def test_a_masking_stream_masks_writes_and_passes_the_rest_through() -> None:
    import io

    inner = io.StringIO()
    stream = MaskingStream(inner, Masker(["s3cret-value"]))

    assert stream.write("a s3cret-value b") == len("a s3cret-value b")
    assert inner.getvalue() == f"a {MASK} b"
    assert stream.isatty() is False
    assert stream.getvalue() == inner.getvalue()


def test_a_junit_file_is_rewritten_masked_and_one_without_secrets_left_as_it_is(tmp_path: Path) -> None:
    dirty = tmp_path / "junit.xml"
    dirty.write_text('<p value="a&amp;b-secret"/><q>a&amp;b-secret</q> é')
    clean = tmp_path / "clean.xml"
    clean.write_text("<p/>")
    before = clean.stat().st_mtime_ns

    mask_file(dirty, Masker(["a&b-secret"]))
    mask_file(clean, Masker(["a&b-secret"]))

    assert dirty.read_bytes().decode() == f'<p value="{MASK}"/><q>{MASK}</q> é'
    assert clean.read_text() == "<p/>"
    assert clean.stat().st_mtime_ns == before

"""pytest_microstack._reports.masking: secrets hidden by key and by value, in data and in text."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_microstack._reports.masking import MASK, Masker, is_sensitive, run_secret_values, secret_values

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

"""Issue 24 §8: a host secret declared as a stack secret is masked in every channel pytest writes through.

A throwaway project with a planted secret (CI_DB_PASSWORD, declared in
stack_secrets) puts it in a collection error, xfail reasons, record_property
and record_testsuite_property values, a warning, log records (live logs and
--log-file) and a failing test's output. Every file the run writes and the
terminal are grepped for the value, raw and as XML escapes it.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest

# XML-special characters on purpose: the JUnit file holds it escaped.
PLANTED = 'pl4nted&<db>"pass'
FORMS = {PLANTED, escape(PLANTED), escape(PLANTED, {'"': "&quot;"})}

CONFTEST = """
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def suite_property(record_testsuite_property):
    record_testsuite_property("suite_db", os.environ["CI_DB_PASSWORD"])
"""

BROKEN_MODULE = """
import os

raise RuntimeError("collecting: " + os.environ["CI_DB_PASSWORD"])
"""

CHANNELS = """
import logging
import os
import warnings

import pytest

SECRET = os.environ["CI_DB_PASSWORD"]


@pytest.mark.xfail(reason="marked: " + SECRET)
def test_xfail_marked():
    assert False


def test_xfail_called():
    pytest.xfail("called: " + SECRET)


def test_record_property(record_property):
    record_property("db", SECRET)
    record_property("db_in_a_list", ["x", SECRET])


def test_warns():
    warnings.warn(UserWarning("warned: " + SECRET))


def test_logs():
    logging.getLogger("app").warning("logged: %s", SECRET)


def test_fails():
    assert SECRET == "", "failed: " + SECRET
"""


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_a_planted_secret_shows_in_no_output_file_and_not_on_the_terminal(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    monkeypatch.setenv("CI_DB_PASSWORD", PLANTED)
    pytester.makefile(
        ".ini",
        pytest="[pytest]\nstack_secrets = CI_DB_PASSWORD\njunit_logging = all\njunit_family = xunit1\n",
    )
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_broken=BROKEN_MODULE, test_channels=CHANNELS)
    out = pytester.path / "out"

    result = pytester.runpytest_subprocess(
        *workers,
        "-p",
        "no:randomly",
        "-rA",
        "--continue-on-collection-errors",
        "-o",
        "log_cli=true",
        "--log-cli-level=INFO",
        f"--log-file={out / 'run.log'}",
        "--log-file-level=INFO",
        f"--junitxml={out / 'junit.xml'}",
    )

    errors = 2 if workers else 1  # each xdist worker collects, and reports, the broken module
    result.assert_outcomes(passed=3, failed=1, xfailed=2, errors=errors, warnings=1)
    written = [path for path in pytester.path.rglob("*") if path.is_file() and path.suffix != ".py"]
    assert {path.name for path in written} >= {"junit.xml", "run.log"}
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    outputs.update({str(path): path.read_text(errors="replace") for path in written})
    for where, text in outputs.items():
        leaked = sorted(form for form in FORMS if form in text)
        assert leaked == [], f"{where} shows the planted secret as {leaked}"
    terminal = outputs["stdout"]
    junit = (out / "junit.xml").read_text()
    run_log = (out / "run.log").read_text()
    # Each channel still says what it said, with the value masked.
    for shown in ("collecting: ***", "marked: ***", "called: ***", "warned: ***", "failed: ***"):
        assert shown in terminal, f"terminal: {shown!r} missing"
    if not workers:  # xdist shows no live logs, and record_testsuite_property doesn't work under it
        assert "logged: ***" in terminal
        assert 'name="suite_db" value="***"' in junit
    assert "logged: ***" in run_log
    for shown in ('name="db" value="***"', "name=\"db_in_a_list\" value=\"['x', '***']\"", "collecting: ***"):
        assert shown in junit, f"junit: {shown!r} missing"

"""Issue 18, 8: what pytest writes about a failed test (terminal, JUnit XML) is masked like the reports.

A throwaway project that declares a stack (so the plugin is active) runs tests
that fail on purpose with the host's secrets in their assertion, locals,
stdout, stderr and log records, with --junitxml into the artifacts folder.
Every file written there and the terminal output are grepped for the values.
"""

from __future__ import annotations

import pytest

HOST_SECRETS = {
    "DB_PASS": "host-db-pass-1234",
    "MYSQL_PWD": "host-mysql-pwd-5678",
    "API_AUTH": "host-api-auth-9abc",
    "CI_DEPLOY_TOKEN": "host-deploy-token-def0",
}

LEAKY_TESTS = """
import logging
import os
import sys

import pytest

NAMES = {names!r}


def secrets():
    return " ".join(os.environ[name] for name in NAMES)


def test_fails_with_secrets_everywhere():
    everything = secrets()
    print("stdout:", everything)
    print("stderr:", everything, file=sys.stderr)
    logging.getLogger("leaky").warning("log: %s", everything)
    assert everything == "", everything


def test_fails_with_a_secret_in_an_exception_chain():
    try:
        raise KeyError(secrets())
    except KeyError as error:
        raise RuntimeError("wrapped " + secrets()) from error


@pytest.fixture
def broken():
    raise ValueError("setup " + secrets())


def test_errors_in_setup(broken):
    pass


def test_passes_but_prints():
    print("passing stdout:", secrets())
"""


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_terminal_and_junit_xml_show_no_host_secret(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    for name, value in HOST_SECRETS.items():
        monkeypatch.setenv(name, value)
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\njunit_logging = all\n")
    pytester.makepyfile(test_leaky=LEAKY_TESTS.format(names=sorted(HOST_SECRETS)))
    artifacts = pytester.path / ".artifacts"

    result = pytester.runpytest_subprocess(
        *workers,
        "-p",
        "no:randomly",
        "-l",
        "-rA",
        "--log-level=INFO",
        f"--junitxml={artifacts / 'junit.xml'}",
    )

    result.assert_outcomes(passed=1, failed=2, errors=1)
    written = [path for path in artifacts.rglob("*") if path.is_file()]
    assert [path.name for path in written] == ["junit.xml"]
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    outputs.update({str(path): path.read_text() for path in written})
    for where, text in outputs.items():
        leaked = [value for value in HOST_SECRETS.values() if value in text]
        assert leaked == [], f"{where} shows {leaked}"
    junit = outputs[str(artifacts / "junit.xml")]
    shown_masked = ["stdout: ***", "stderr: ***", "log: ***"]
    shown_masked += ["passing stdout: ***", "wrapped ***", "setup ***"]
    for shown in shown_masked:
        assert shown in junit, f"{shown!r} missing: the section itself must still be there"

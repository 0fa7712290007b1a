"""A failing stack test's service logs reach the JUnit XML as its <system-out>, masked (issue 23 §6).

A throwaway project declares a stack whose start-up is replaced, in its
conftest.py, by a stand-in stack (no engine: these are unit tests) that logs a
secret of the run. Its tests fail in the call, in set-up and in teardown, and
one passes; the XML is read back for each.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

TOKEN = "run-token-5f3c9a7e21"
CONFTEST = f"""
import contextlib

import pytest
import pytest_microstack._core.lifecycle as lifecycle
from pytest_microstack._session.run_state import RunState


class StandInCompose:
    environment = {{"API_TOKEN": "{TOKEN}"}}

    def get_config(self):
        return {{}}


class StandInStack:
    project = "stand-in"
    services = {{"api": None, "db": None}}
    startup = []
    waited = 0.0
    engine = None
    engine_info = "stand-in engine"
    compose = StandInCompose()

    def logs(self, service, since=None):
        return f"{{service}} started\\n{{service}} uses token {TOKEN}\\n"


@contextlib.contextmanager
def stand_in(settings, engine=None, on_start_failure=None, coverage=None):
    yield StandInStack()


lifecycle.open_stack_with = stand_in
lifecycle.sweep_leftovers = lambda engine=None: []
RunState.machine = lambda self: None


@pytest.fixture
def broken_after(stack):
    yield
    raise RuntimeError("teardown broke")
"""
TESTS = """
def test_fails(stack):
    print("the test's own output")
    assert False, "deliberately"

def test_breaks_in_teardown(broken_after):
    pass

def test_passes(stack):
    pass

def test_fails_without_the_stack():
    assert False
"""


def run(pytester: pytest.Pytester, *args: str) -> ET.Element:
    pytester.makeini("[pytest]\nstack_secrets = API_TOKEN\n")
    pytester.makefile(".yaml", compose="services:\n  api:\n    image: api\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_junit=TESTS)
    junit = pytester.path / "junit.xml"

    result = pytester.runpytest_subprocess(
        *args, "-p", "no:cacheprovider", "-p", "no:randomly", f"--junitxml={junit}"
    )

    result.assert_outcomes(passed=2, failed=2, errors=1)
    assert TOKEN not in result.stdout.str()
    return ET.parse(junit).getroot()


def system_out(root: ET.Element, name: str) -> list[str]:
    [case] = [case for case in root.iter("testcase") if case.get("name") == name]
    return [element.text or "" for element in case.iter("system-out")]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_failing_tests_service_logs_are_its_system_out_masked(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    root = run(pytester, *workers)

    [logs] = system_out(root, "test_fails")
    assert "----- api logs during call -----\napi started\napi uses token ***\n" in logs
    assert "----- db logs during call -----" in logs
    teardown = "\n".join(system_out(root, "test_breaks_in_teardown"))
    assert "api logs during teardown" in teardown
    assert system_out(root, "test_passes") == []
    assert system_out(root, "test_fails_without_the_stack") == []
    assert TOKEN not in Path(pytester.path / "junit.xml").read_text()


def test_the_logs_follow_the_failure_and_pytests_own_captured_output(pytester: pytest.Pytester) -> None:
    """In the JUnit schema's order: <failure>, then <system-out> (pytest's, with junit_logging; ours)."""
    root = run(pytester, "-o", "junit_logging=system-out")

    [case] = [case for case in root.iter("testcase") if case.get("name") == "test_fails"]
    assert [child.tag for child in case] == ["failure", "system-out", "system-out"]
    assert "the test's own output" in (case[1].text or "")
    assert "api logs during call" in (case[2].text or "")

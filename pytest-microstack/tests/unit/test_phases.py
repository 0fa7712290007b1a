"""The phases a measured stack's services are switched to: each test's, and a wide fixture's own."""

from __future__ import annotations

import json

import pytest

CONFTEST = """
import json

import pytest

from pytest_microstack._boundaries import BOUNDARIES

SEEN = []


class Listener:  # stands in for a measured stack's switcher
    def switch(self, context):
        SEEN.append(context)

    def close(self):
        SEEN.append("closed")


@pytest.fixture(scope="session")
def opened():
    listener = Listener()
    BOUNDARIES.opened(listener)  # as the stack fixture does, once its services are up
    yield
    BOUNDARIES.closed(listener)


@pytest.fixture(scope="module")
def seeded(opened):
    SEEN.append("seeding")
    return 1


@pytest.fixture
def per_test(opened):
    SEEN.append("per-test")


def pytest_sessionfinish(session):
    (session.config.rootpath / "seen.json").write_text(json.dumps(SEEN))
"""

TESTS = """
def test_a(seeded, per_test):
    pass


def test_b(seeded):
    pass
"""


def test_a_wide_fixture_runs_in_its_own_context_and_the_test_resumes_after(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nstack_timeout = 30\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_t=TESTS)

    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)
    seen = json.loads((pytester.path / "seen.json").read_text())
    a, b = "test_t.py::test_a", "test_t.py::test_b"
    assert seen == [
        "(fixture opened)",  # opened inside the fixture: its services start in the fixture's context
        f"{a}|setup",
        "(fixture seeded)",
        "seeding",
        f"{a}|setup",
        "per-test",  # a function fixture belongs to its test's setup
        f"{a}|run",
        f"{a}|teardown",
        f"{b}|setup",
        f"{b}|run",
        f"{b}|teardown",
        "(outside tests)",  # the stack's own stop: outside tests
        "closed",
    ]

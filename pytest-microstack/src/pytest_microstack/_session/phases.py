"""The pytest hooks that announce each phase of each test (per-test contexts).

Registered with the run state, and idle, at no cost, until a measured stack opens a
switcher (`_coverage.contexts`). Each boundary is announced first (tryfirst), before
any of the phase's own hooks and fixtures run. Setting up a fixture wider than a
function (a session or module fixture: the stack itself, seeding) is announced as that
fixture's own context, which `--stack-impact` gives to every test that uses the fixture
(the seeded user serves them all, not only the test that happened to come first), and
the phase it interrupted is announced again afterwards. The services' own start-up runs
before the stack's switcher opens: outside tests.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_microstack._boundaries import BOUNDARIES, OUTSIDE, fixture_context, phase_context


class Phases:
    """The hooks; `BOUNDARIES` holds the state."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        BOUNDARIES.announce(phase_context(item.nodeid, "setup"))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        BOUNDARIES.announce(phase_context(item.nodeid, "call"))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        BOUNDARIES.announce(phase_context(item.nodeid, "teardown"))

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, None]:
        if fixturedef.scope == "function":
            yield
            return
        interrupted = BOUNDARIES.current
        if BOUNDARIES.open:
            BOUNDARIES.announce(fixture_context(fixturedef.argname))
        else:
            BOUNDARIES.current = fixture_context(fixturedef.argname)  # a stack opened here starts in it
        try:
            yield
        finally:
            BOUNDARIES.announce(interrupted)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        BOUNDARIES.announce(OUTSIDE)

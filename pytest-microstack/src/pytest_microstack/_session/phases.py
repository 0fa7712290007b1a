"""The pytest hooks that announce each phase of each test (per-test contexts).

Registered with the run state, and idle, at no cost, until a measured stack opens a
switcher (`_coverage.contexts`). Each boundary is announced first (tryfirst), before
any of the phase's own hooks and fixtures run. Setting up a fixture wider than a
function (a session or module fixture: the stack itself, seeding) is announced as work
outside tests, and the phase it interrupted is announced again afterwards.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_microstack._boundaries import BOUNDARIES, OUTSIDE, phase_context


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
            BOUNDARIES.announce(OUTSIDE)
        else:
            BOUNDARIES.current = OUTSIDE  # a stack opened here starts outside tests
        try:
            yield
        finally:
            BOUNDARIES.announce(interrupted)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        BOUNDARIES.announce(OUTSIDE)

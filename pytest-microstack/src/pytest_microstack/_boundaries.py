"""The test phase running now, announced to whatever must follow it (per-test contexts).

`BOUNDARIES` is this process's one announcer; `_session.phases` holds the pytest hooks
that announce each phase of each test, idle until a measured stack opens a switcher
(`_coverage.contexts`). Plain code: no pytest here, so the coverage room may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

# The context of work outside any test; `_coverage/agent.py` (standalone, in the containers) has the same.
OUTSIDE = "(outside tests)"
_FIXTURE = "(fixture {})"


class Listener(Protocol):
    def switch(self, context: str) -> None: ...

    def close(self) -> None: ...


class Boundaries:
    """This process's current phase, announced to every open listener."""

    def __init__(self) -> None:
        self.current = OUTSIDE
        self.open: list[Listener] = []

    def announce(self, context: str) -> None:
        self.current = context
        for listener in self.open:
            listener.switch(context)

    def opened(self, listener: Listener) -> None:
        """A new stack's services start in the current phase (their start-up ran outside tests)."""
        self.open.append(listener)
        listener.switch(self.current)

    def closed(self, listener: Listener) -> None:
        """Work after this (the stack's own stop) is outside tests."""
        if listener in self.open:
            self.open.remove(listener)
        listener.switch(OUTSIDE)
        listener.close()


BOUNDARIES = Boundaries()


def phase_context(nodeid: str, when: str) -> str:
    """pytest-cov's own naming (`--cov-context=test`): NODEID|setup, NODEID|run, NODEID|teardown."""
    return f"{nodeid}|{'run' if when == 'call' else when}"


def fixture_context(argname: str) -> str:
    """The context of setting up a fixture wider than a function: it belongs to every test that uses it."""
    return _FIXTURE.format(argname)


def fixture_of(context: str) -> str | None:
    """The fixture's name of a `fixture_context`, else None."""
    head, _, tail = _FIXTURE.partition("{}")
    if context.startswith(head) and context.endswith(tail) and len(context) > len(head) + len(tail):
        return context[len(head) : -len(tail)]
    return None


def test_of(context: str) -> str | None:
    """The test id of a phase context, a fixture's context as it is; None for work outside tests."""
    if fixture_of(context) is not None:
        return context
    nodeid, bar, phase = context.rpartition("|")
    return nodeid if bar and phase in {"setup", "run", "teardown"} else None


def tests_of(contexts: Iterable[str]) -> set[str | None]:
    return {test_of(context) for context in contexts}

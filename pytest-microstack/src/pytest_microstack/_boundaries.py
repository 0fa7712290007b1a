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


def test_of(context: str) -> str | None:
    """The test id of a phase context; None for work outside tests (or a context not ours)."""
    nodeid, bar, phase = context.rpartition("|")
    return nodeid if bar and phase in {"setup", "run", "teardown"} else None


def tests_of(contexts: Iterable[str]) -> set[str | None]:
    return {test_of(context) for context in contexts}

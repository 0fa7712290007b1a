"""Not a test module of the suite: the bench's Ctrl-C figure runs it in a child pytest.

It starts this repository's stack, writes the project name where the parent
asked, then waits (bounded) for the parent to interrupt it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_microstack import Stack, wait_for


def test_hold_the_stack(stack: Stack) -> None:
    Path(os.environ["HOLD_STACK_REPORT"]).write_text(stack.project)
    wait_for(lambda: False, timeout=60, what="a signal from the parent")

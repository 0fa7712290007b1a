"""Not collected on its own: test_signals.py copies it into an example project and runs it.

It starts the stack, writes the project name where the parent asked, then
waits (bounded) for the parent to signal or kill it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_microstack import wait_for
from pytest_microstack._core.stack import Stack


def test_hold_the_stack(stack: Stack) -> None:
    Path(os.environ["HOLD_STACK_REPORT"]).write_text(stack.project)
    wait_for(lambda: False, timeout=60, what="a signal from the parent test")

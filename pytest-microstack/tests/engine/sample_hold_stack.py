"""Not collected on its own: test_signals.py copies it into an example project and runs it;
the bench's Ctrl-C figure runs it in place. It imports only public names, as a user's test would.

It starts the stack, writes the project name where the parent asked, then
waits (bounded) for the parent to signal or kill it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_microstack import Stack, wait_for


def test_hold_the_stack(stack: Stack) -> None:
    Path(os.environ["HOLD_STACK_REPORT"]).write_text(stack.project)
    wait_for(lambda: False, timeout=60, what="a signal from the parent test")

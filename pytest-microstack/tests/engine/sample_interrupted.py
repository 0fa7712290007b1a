"""Not collected on its own: test_interrupt_windows.py copies it into an example project."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_microstack._core.stack import Stack


def test_uses_the_stack(stack: Stack) -> None:
    """Arms the removal window: the next removal is the end-of-session one."""
    Path(os.environ["INTERRUPT_REPORT"]).write_text(stack.project)

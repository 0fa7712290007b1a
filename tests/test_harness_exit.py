"""The run ends soon after its last test: what the harness loaded is not scanned again at exit."""

from __future__ import annotations

import gc

from pytest_microstack.stack import Stack

# Far fewer than the harness and its imports leave alive (~54,000 objects); far more
# than a run that never froze anything (0).
FROZEN_AT_LEAST = 10_000


def test_objects_alive_when_the_stack_came_up_are_frozen(stack: Stack) -> None:
    # pytest's end-of-run gc.collect() calls and the interpreter's at exit skip the
    # frozen generation: that was ~0.3 s of every run's exit (BENCHMARKS.md, exit).
    assert stack.project
    assert gc.get_freeze_count() >= FROZEN_AT_LEAST, gc.get_freeze_count()

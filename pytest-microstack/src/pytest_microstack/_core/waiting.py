"""Poll with a deadline: the only way tests wait for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not hold before the deadline."""


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.02) -> T:
    """Return the first truthy value of `condition()`, or fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what}: not seen within {timeout:.1f} s (last value {last!r})")
        time.sleep(interval)
        last = condition()
    return last

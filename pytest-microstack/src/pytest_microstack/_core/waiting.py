"""Poll with a deadline: the only way tests wait for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pytest_microstack._errors import WaitTimeout

T = TypeVar("T")


def describe(condition: Callable[..., object]) -> str:
    """A readable name for a condition: its qualified name, and where a function was defined.

    `check_ready` -> "check_ready (test_api.py:12)"; a lambda ->
    "test_x.<locals>.<lambda> (test_api.py:30)"; anything else (a partial, a
    callable object) -> its repr.
    """
    name = getattr(condition, "__qualname__", None)
    if not isinstance(name, str):
        return repr(condition)
    code = getattr(condition, "__code__", None)
    if code is None:
        return name
    return f"{name} ({Path(code.co_filename).name}:{code.co_firstlineno})"


def wait_for(
    condition: Callable[[], T], *, timeout: float, what: str | None = None, interval: float = 0.02
) -> T:
    """Return the first truthy value of `condition()`, or fail naming `what` after `timeout` s.

    `what` defaults to the condition's name and where it was defined. Instead of a
    sleep in a test: it returns as soon as the condition holds.

    ```python
    from pytest_microstack import wait_for

    answers = iter([None, None, "shipped"])  # e.g. an order's status, read each time
    print(wait_for(lambda: next(answers), timeout=5, what="the order to ship"))
    #> shipped
    ```
    """
    label = describe(condition) if what is None else what
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{label}: not seen within {timeout:.1f} s (last value {last!r})")
        time.sleep(interval)
        last = condition()
    return last

"""pytest_microstack._core.waiting: poll a condition under a deadline."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from pytest_microstack._core.waiting import WaitTimeout, wait_for


def test_returns_the_first_truthy_value() -> None:
    values: Iterator[object] = iter([None, 0, "", [], "ready", "later"])
    calls = 0

    def condition() -> object:
        nonlocal calls
        calls += 1
        return next(values)

    assert wait_for(condition, timeout=5, what="ready", interval=0.001) == "ready"
    assert calls == 5


def test_returns_at_once_without_sleeping_when_already_true() -> None:
    started = time.monotonic()
    assert wait_for(lambda: 42, timeout=5, what="answer", interval=10) == 42
    assert time.monotonic() - started < 1


def test_times_out_naming_what_and_the_last_value() -> None:
    counter = itertools.count()
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"the widget to appear: not seen within 0\.1 s") as caught:
        wait_for(lambda: next(counter) < 0, timeout=0.1, what="the widget to appear", interval=0.01)
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 1.5
    assert "last value False" in str(caught.value)


def test_wait_timeout_is_an_assertion_error() -> None:
    """So a wait that fails inside a test is reported as a test failure, not an error."""
    assert issubclass(WaitTimeout, AssertionError)


def test_polls_until_the_condition_becomes_true_within_the_deadline() -> None:
    ready_at = time.monotonic() + 0.05
    value = wait_for(lambda: time.monotonic() >= ready_at, timeout=5, what="clock", interval=0.005)
    assert value is True
    assert time.monotonic() >= ready_at

"""pytest_microstack._core.waiting: poll a condition under a deadline."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterator

import pytest
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._errors import WaitTimeout


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


def _never_ready() -> bool:
    return False


def test_what_defaults_to_the_condition_name_and_where_it_was_defined() -> None:
    line = _never_ready.__code__.co_firstlineno
    with pytest.raises(WaitTimeout) as caught:
        wait_for(_never_ready, timeout=0.01, interval=0.001)
    assert str(caught.value).startswith(f"_never_ready (test_waiting.py:{line}): not seen within 0.0 s")


def test_what_defaults_to_a_lambda_s_place() -> None:
    condition = lambda: 0  # noqa: E731 (the lambda is what is described)
    line = condition.__code__.co_firstlineno
    with pytest.raises(WaitTimeout, match=r"last value 0") as caught:
        wait_for(condition, timeout=0.01, interval=0.001)
    expected = f"test_what_defaults_to_a_lambda_s_place.<locals>.<lambda> (test_waiting.py:{line}):"
    assert str(caught.value).startswith(expected)


def test_what_defaults_to_the_repr_of_a_callable_without_a_name() -> None:
    condition = functools.partial(bool, 0)
    with pytest.raises(WaitTimeout) as caught:
        wait_for(condition, timeout=0.01, interval=0.001)
    assert str(caught.value).startswith(f"{condition!r}: not seen")


def test_a_given_what_wins_over_the_default() -> None:
    with pytest.raises(WaitTimeout, match=r"^the queue to drain: not seen"):
        wait_for(_never_ready, timeout=0.01, what="the queue to drain", interval=0.001)

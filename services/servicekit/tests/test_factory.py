"""The app factory: several threads may build apps at once (issue 24, item 12).

werkzeug compiles every URL rule with ast.parse, and CPython before 3.11.8 keeps the
AST constructor's depth counter in state all threads share (gh-106905). A GC run in
the middle of one thread's conversion can hand the GIL to another thread; if that
one parses too, the first finishes with a wrong count and fails with SystemError.
That was `test_concurrent_startups_are_safe`'s rare failure under load (1 in 400
four-thread start-ups with two fsync hogs running, none in ~940 without them).
This test makes the switch happen every time: a GC callback pauses the first
thread inside its first parse until the second thread has built its app, or waits
for its turn.
"""

from __future__ import annotations

import ast
import gc
import linecache
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from flask import Flask
from servicekit import factory

SERVICE = factory.Service("demo", __name__, (), init_db=lambda app: None, ready_table="demo")
#: Bounds each wait; only a hang in the code under test gets near it.
DEADLINE_SECONDS = 30.0


def build() -> Flask:
    """A whole app from the factory: every URL rule compiled, as a service's are."""
    return factory.create_app(SERVICE, {"TESTING": True}, lambda app: None)


def waiting_for_its_turn(thread: threading.Thread) -> bool:
    """True when the thread is parked in the factory's build lock (a `with` on it)."""
    frame: FrameType | None = sys._current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code is not factory.create_app.__code__:
        return False
    return "with _BUILDING" in linecache.getline(frame.f_code.co_filename, frame.f_lineno)


@pytest.fixture
def collect_often() -> Iterator[list[Any]]:
    """Function scope: a GC run at every allocation, with the callbacks the test appends."""
    threshold = gc.get_threshold()
    callbacks: list[Any] = []
    gc.set_threshold(1)
    try:
        yield callbacks
    finally:
        for callback in callbacks:
            gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)


def test_two_threads_build_apps_at_once(collect_often: list[Any]) -> None:
    failures: list[BaseException] = []
    paused = threading.Event()
    second_done = threading.Event()

    def pause_first_parse(phase: str, _info: dict[str, int]) -> None:
        # Inside compile() the caller's frame is ast.parse: that is where the count is kept.
        if phase != "start" or threading.current_thread() is not first or paused.is_set():
            return
        if sys._getframe(1).f_code is not ast.parse.__code__:
            return
        paused.set()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not (second_done.is_set() or waiting_for_its_turn(second)):
            if time.monotonic() > deadline:
                failures.append(AssertionError("the second build neither finished nor waited its turn"))
                return
            time.sleep(0.001)

    def run(done: threading.Event | None = None) -> None:
        try:
            build()
        except Exception as exc:  # noqa: BLE001 - reported below, in the test thread
            failures.append(exc)
        finally:
            if done is not None:
                done.set()

    def second_build() -> None:
        paused.wait(DEADLINE_SECONDS)
        run(second_done)

    first = threading.Thread(target=run)
    second = threading.Thread(target=second_build)
    collect_often.append(pause_first_parse)
    gc.callbacks.append(pause_first_parse)
    second.start()
    first.start()
    first.join(DEADLINE_SECONDS)
    second.join(DEADLINE_SECONDS)
    assert paused.is_set(), "the first build never parsed: nothing was tested"
    assert failures == []
    assert second_done.is_set()

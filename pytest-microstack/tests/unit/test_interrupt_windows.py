"""Ctrl-C at the two narrow windows of a stack's life, signalled for real at the exact moment.

Each test installs the harness's own SIGINT handler, arms a hook at the window
(no sleeps: the hook sends the signal, then waits for the event that shows the
signal was handled), and checks that nothing is left that no one will remove.

(a) `compose up` submitted to its thread, its process not started yet: the
    teardown started by the signal removes nothing (nothing exists yet), so
    `up` must never start afterwards.
(b) a second Ctrl-C while the stack is being removed: the removal is cut short,
    so the stack must stay registered and the backstop must finish it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._cleanup import backstop
from pytest_microstack._core.lifecycle import open_stack_with
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._errors import ComposeCancelledError

from unit.fake_lifecycle import FakeCompose, fake_compose, fake_engine, settings
from unit.fakes import FakeEngine

__all__ = ["fake_compose"]  # the fixture, used by name
EVENT_TIMEOUT = 10.0  # bound on every wait for the other thread; never reached when it works


@pytest.fixture(autouse=True)
def harness_signal_handling(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The backstop's registry of this test alone, and its SIGINT handler installed as in a run."""
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("signal handlers can only be installed from the main thread")
    monkeypatch.setattr(backstop, "_teardowns", {})
    monkeypatch.setattr(backstop, "_started_early", set())
    previous = signal.signal(signal.SIGINT, backstop._interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c() -> None:
    """Ctrl-C, from any thread: Python runs the handler in the main thread."""
    os.kill(os.getpid(), signal.SIGINT)


def wait(event: threading.Event, what: str) -> None:
    if not event.wait(EVENT_TIMEOUT):
        raise AssertionError(f"timed out waiting for {what}")


def test_ctrl_c_after_up_is_submitted_but_before_it_starts_creates_nothing(
    fake_compose: FakeCompose, engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    removal_done = threading.Event()
    up_returned = threading.Event()
    refused: list[ComposeCancelledError] = []
    stop = ComposeStack.stop

    def stop_and_tell(self: ComposeStack) -> None:
        stop(self)
        removal_done.set()

    run_command = ProjectCompose._run_command

    def at_the_window(self: ProjectCompose, cmd: Any, context: str | None = None) -> Any:
        if "up" in cmd:  # on `up`'s thread, before any process exists
            ctrl_c()
            wait(removal_done, "the teardown the signal started")
        try:
            return run_command(self, cmd, context)
        except ComposeCancelledError as error:
            refused.append(error)
            raise
        finally:
            if "up" in cmd:
                up_returned.set()

    monkeypatch.setattr(ComposeStack, "stop", stop_and_tell)
    monkeypatch.setattr(ProjectCompose, "_run_command", at_the_window)

    with (
        pytest.raises(KeyboardInterrupt),
        open_stack_with(settings(tmp_path, "cafe0001"), fake_engine(engine)),
    ):
        pytest.fail("the stack must not come up")

    # The interrupt may leave open_stack_with before `up`'s thread is done (when it lands while
    # the executor is still starting that thread, the executor doesn't wait for it).
    wait(up_returned, "`up`'s thread to return")
    assert fake_compose.ran("up") == [], "`up` started after the teardown had run"
    assert [error.command[-2:] for error in refused] == [["up", "--detach"]]
    assert engine.container_attrs == {}
    assert engine.network_attrs == {}
    backstop.run_all()  # what pytest_sessionfinish and atexit do
    assert engine.container_attrs == {}
    assert engine.network_attrs == {}


def test_a_second_ctrl_c_during_removal_leaves_the_stack_to_the_backstop(
    fake_compose: FakeCompose, engine: FakeEngine, tmp_path: Path
) -> None:
    handled = threading.Event()
    armed = threading.Event()

    with (  # noqa: PT012 - the teardown at the end of the block raises it
        pytest.raises(KeyboardInterrupt) as caught,
        open_stack_with(settings(tmp_path, "cafe0002"), fake_engine(engine)) as stack,
    ):
        project = stack.project
        assert len(fake_compose.containers_of(project)) == 2
        remove_container = engine.api.remove_container

        def during_removal(ident: str, **kwargs: Any) -> None:
            if armed.is_set():
                armed.clear()
                ctrl_c()  # lands in the main thread, which is waiting for this removal
                wait_for(lambda: backstop.started_early(project), timeout=EVENT_TIMEOUT, what="the handler")
                handled.set()
            remove_container(ident, **kwargs)

        engine.api.remove_container = during_removal  # type: ignore[method-assign]
        armed.set()
    # Leaving the block: the fixture's teardown removes the stack in the main thread.

    assert any(frame.name == "remove_project" for frame in caught.traceback), "not cut short in removal"
    wait(handled, "the second Ctrl-C to be handled during the removal")
    with backstop._lock:
        assert project in backstop._teardowns, "unregistered while its removal was cut short"
    backstop.run_all()  # what pytest_sessionfinish and atexit do
    assert engine.container_attrs == {}
    assert engine.network_attrs == {}
    assert backstop._teardowns == {}

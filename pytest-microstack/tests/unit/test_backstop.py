"""tests.harness.cleanup: the teardown backstop (registry, run_all, SIGTERM, atexit)."""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import cleanup
from tests.harness.waiting import wait_for


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets an empty registry; whatever the real run registered is left alone."""
    monkeypatch.setattr(cleanup, "_teardowns", {})
    monkeypatch.setattr(cleanup, "_started_early", set())


def _recorder(log: list[str], name: str, *, fail: bool = False) -> Callable[[], None]:
    def teardown() -> None:
        log.append(name)
        if fail:
            raise RuntimeError(f"{name} could not be removed")

    return teardown


def test_run_all_runs_each_registered_teardown_once() -> None:
    log: list[str] = []
    cleanup.register("p1", _recorder(log, "p1"))
    cleanup.register("p2", _recorder(log, "p2"))

    cleanup.run_all()
    cleanup.run_all()

    assert sorted(log) == ["p1", "p2"]


def test_unregistered_teardowns_are_not_run() -> None:
    log: list[str] = []
    cleanup.register("p1", _recorder(log, "p1"))
    cleanup.register("p2", _recorder(log, "p2"))
    cleanup.unregister("p1")
    cleanup.unregister("never-registered")

    cleanup.run_all()

    assert log == ["p2"]


def test_registering_a_project_again_replaces_its_teardown() -> None:
    log: list[str] = []
    cleanup.register("p", _recorder(log, "old"))
    cleanup.register("p", _recorder(log, "new"))

    cleanup.run_all()

    assert log == ["new"]


def test_run_all_continues_after_a_teardown_raises_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    cleanup.register("first", _recorder(log, "first"))
    cleanup.register("broken", _recorder(log, "broken", fail=True))
    cleanup.register("last", _recorder(log, "last"))

    with caplog.at_level(logging.ERROR, logger=cleanup.__name__):
        cleanup.run_all()  # must not raise

    assert sorted(log) == ["broken", "first", "last"]
    assert any("broken" in record.getMessage() for record in caplog.records)
    cleanup.run_all()
    assert sorted(log) == ["broken", "first", "last"], "a failed teardown is not retried"


def test_sigterm_handler_raises_keyboard_interrupt_naming_the_signal() -> None:
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        cleanup._interrupt(signal.SIGTERM, None)


@pytest.mark.parametrize(
    ("current_handler", "expect_installed"),
    [
        pytest.param(signal.SIG_DFL, True, id="default-handler-replaced"),
        pytest.param(None, True, id="no-python-handler-replaced"),
        pytest.param(signal.SIG_IGN, False, id="ignored-signal-left-alone"),
        pytest.param(lambda signum, frame: None, False, id="custom-handler-left-alone"),
    ],
)
def test_install_turns_sigterm_into_interrupt_only_over_the_default(
    monkeypatch: pytest.MonkeyPatch, current_handler: Any, expect_installed: bool
) -> None:
    installed: list[tuple[int, Any]] = []
    at_exit: list[Callable[[], None]] = []
    monkeypatch.setattr(signal, "getsignal", lambda signum: current_handler)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append((signum, handler)))
    monkeypatch.setattr(atexit, "register", at_exit.append)

    cleanup.install()

    assert installed == ([(signal.SIGTERM, cleanup._interrupt)] if expect_installed else [])
    assert at_exit == [cleanup.run_all]


def test_install_starts_teardowns_on_ctrl_c_only_over_pythons_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed: list[tuple[int, Any]] = []
    handlers = {signal.SIGTERM: signal.SIG_IGN, signal.SIGINT: signal.default_int_handler}
    monkeypatch.setattr(signal, "getsignal", handlers.__getitem__)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append((signum, handler)))
    monkeypatch.setattr(atexit, "register", lambda function: None)

    cleanup.install()

    assert installed == [(signal.SIGINT, cleanup._interrupt)]


def test_an_interrupt_starts_every_teardown_at_once_and_keeps_them_registered() -> None:
    started = threading.Event()
    release = threading.Event()
    log: list[str] = []

    def slow_teardown() -> None:
        started.set()
        release.wait(timeout=10)
        log.append("torn down")

    cleanup.register("p", slow_teardown)

    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        cleanup._interrupt(signal.SIGINT, None)

    assert started.wait(timeout=5), "the teardown must start before pytest unwinds"
    release.set()
    wait_for(lambda: log, timeout=5, what="background teardown")
    cleanup.run_all()  # still registered: the normal path runs it again (teardowns are idempotent)
    assert log == ["torn down", "torn down"]

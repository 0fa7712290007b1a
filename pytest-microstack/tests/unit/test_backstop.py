"""pytest_microstack._cleanup.backstop: the teardown backstop (registry, run_all, SIGTERM, atexit)."""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest
from pytest_microstack._cleanup import backstop
from pytest_microstack._core.waiting import wait_for


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets an empty registry; whatever the real run registered is left alone."""
    monkeypatch.setattr(backstop, "_teardowns", {})
    monkeypatch.setattr(backstop, "_started_early", set())
    monkeypatch.setattr(backstop, "_installed", False)


def _recorder(log: list[str], name: str, *, fail: bool = False) -> Callable[[], None]:
    def teardown() -> None:
        log.append(name)
        if fail:
            raise RuntimeError(f"{name} could not be removed")

    return teardown


def test_run_all_runs_each_registered_teardown_once() -> None:
    log: list[str] = []
    backstop.register("p1", _recorder(log, "p1"))
    backstop.register("p2", _recorder(log, "p2"))

    backstop.run_all()
    backstop.run_all()

    assert sorted(log) == ["p1", "p2"]


def test_unregistered_teardowns_are_not_run() -> None:
    log: list[str] = []
    backstop.register("p1", _recorder(log, "p1"))
    backstop.register("p2", _recorder(log, "p2"))
    backstop.unregister("p1")
    backstop.unregister("never-registered")

    backstop.run_all()

    assert log == ["p2"]


def test_registering_a_project_again_replaces_its_teardown() -> None:
    log: list[str] = []
    backstop.register("p", _recorder(log, "old"))
    backstop.register("p", _recorder(log, "new"))

    backstop.run_all()

    assert log == ["new"]


def test_run_all_continues_after_a_teardown_raises_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    backstop.register("first", _recorder(log, "first"))
    backstop.register("broken", _recorder(log, "broken", fail=True))
    backstop.register("last", _recorder(log, "last"))

    with caplog.at_level(logging.ERROR, logger=backstop.__name__):
        backstop.run_all()  # must not raise

    assert sorted(log) == ["broken", "first", "last"]
    assert any("broken" in record.getMessage() for record in caplog.records)
    backstop.run_all()
    assert sorted(log) == ["broken", "first", "last"], "a failed teardown is not retried"


def test_sigterm_handler_raises_keyboard_interrupt_naming_the_signal() -> None:
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        backstop._interrupt(signal.SIGTERM, None)


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

    backstop.install()

    assert installed == ([(signal.SIGTERM, backstop._interrupt)] if expect_installed else [])
    assert at_exit == [backstop.run_all]


def test_install_starts_teardowns_on_ctrl_c_only_over_pythons_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed: list[tuple[int, Any]] = []
    handlers = {signal.SIGTERM: signal.SIG_IGN, signal.SIGINT: signal.default_int_handler}
    monkeypatch.setattr(signal, "getsignal", handlers.__getitem__)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append((signum, handler)))
    monkeypatch.setattr(atexit, "register", lambda function: None)

    backstop.install()

    assert installed == [(signal.SIGINT, backstop._interrupt)]


def test_install_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[tuple[int, Any]] = []
    at_exit: list[Callable[[], None]] = []
    monkeypatch.setattr(signal, "getsignal", lambda signum: signal.SIG_DFL)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append((signum, handler)))
    monkeypatch.setattr(atexit, "register", at_exit.append)

    backstop.install()
    backstop.install()

    assert installed == [(signal.SIGTERM, backstop._interrupt)]
    assert at_exit == [backstop.run_all], "one atexit hook however many stacks are opened"


def test_an_interrupt_starts_every_teardown_at_once_and_keeps_them_registered() -> None:
    started = threading.Event()
    release = threading.Event()
    log: list[str] = []

    def slow_teardown() -> None:
        started.set()
        release.wait(timeout=10)
        log.append("torn down")

    backstop.register("p", slow_teardown)

    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        backstop._interrupt(signal.SIGINT, None)

    assert started.wait(timeout=5), "the teardown must start before pytest unwinds"
    release.set()
    wait_for(lambda: log, timeout=5, what="background teardown")
    backstop.run_all()  # still registered: the normal path runs it again (teardowns are idempotent)
    assert log == ["torn down", "torn down"]

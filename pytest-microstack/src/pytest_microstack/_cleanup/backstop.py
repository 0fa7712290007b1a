"""Backstops that tear stacks down however the run ends (short of SIGKILL).

Fixture teardown is the normal path. These catch the rest: SIGTERM is turned
into KeyboardInterrupt so pytest unwinds and tears down as on Ctrl-C, and an
atexit hook stops anything still registered.

On Ctrl-C or SIGTERM the teardowns also start at once, on background threads:
pytest spends ~0.4 s rendering the interrupt's traceback before it reaches the
fixture teardown, which then finds the work under way (teardowns must be
idempotent and safe to call from two threads) and only waits for it.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

LOG = logging.getLogger(__name__)
_lock = threading.RLock()  # the signal handler may run while the main thread holds it
_teardowns: dict[str, Callable[[], None]] = {}
_started_early: set[str] = set()


def register(project: str, teardown: Callable[[], None]) -> None:
    with _lock:
        _teardowns[project] = teardown


def unregister(project: str) -> None:
    with _lock:
        _teardowns.pop(project, None)
        _started_early.discard(project)


def started_early(project: str) -> bool:
    """Whether a signal already started this project's teardown in the background."""
    with _lock:
        return project in _started_early


def run_all() -> None:
    """Tear down every stack still registered; never raises."""
    with _lock:
        pending = list(_teardowns.items())
        _teardowns.clear()
        _started_early.clear()
    for project, teardown in pending:
        try:
            teardown()
        except Exception:  # a backstop must try every stack
            LOG.exception("teardown of %s failed", project)


def start_all_in_background() -> list[threading.Thread]:
    """Start every registered teardown on its own thread; they stay registered."""
    with _lock:
        pending = list(_teardowns.items())
        _started_early.update(project for project, _ in pending)
    threads = [
        threading.Thread(target=_quietly, args=(project, teardown), name=f"teardown {project}", daemon=True)
        for project, teardown in pending
    ]
    for thread in threads:
        thread.start()
    return threads


def _quietly(project: str, teardown: Callable[[], None]) -> None:
    try:
        teardown()
    except Exception:  # logged; the fixture's own teardown will try again
        LOG.exception("early teardown of %s failed", project)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    start_all_in_background()
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


_installed = False


def install() -> None:
    """Make SIGTERM unwind like Ctrl-C, start teardowns at the signal, stop leftovers at exit.

    Installed when the first stack is opened, not at import: runs that use no
    stack keep pytest's own signal handling. Idempotent.
    """
    global _installed
    if _installed:
        return
    _installed = True
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _interrupt)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _interrupt)
    atexit.register(run_all)

"""Backstops that tear stacks down however the run ends (short of SIGKILL).

Fixture teardown is the normal path. These catch the rest: SIGTERM is turned
into KeyboardInterrupt so pytest unwinds and tears down as on Ctrl-C, and an
atexit hook stops anything still registered.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

LOG = logging.getLogger(__name__)
_lock = threading.Lock()
_teardowns: dict[str, Callable[[], None]] = {}


def register(project: str, teardown: Callable[[], None]) -> None:
    with _lock:
        _teardowns[project] = teardown


def unregister(project: str) -> None:
    with _lock:
        _teardowns.pop(project, None)


def run_all() -> None:
    """Tear down every stack still registered; never raises."""
    with _lock:
        pending = list(_teardowns.items())
        _teardowns.clear()
    for project, teardown in pending:
        try:
            teardown()
        except Exception:  # a backstop must try every stack
            LOG.exception("teardown of %s failed", project)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def install() -> None:
    """Make SIGTERM unwind like Ctrl-C, and stop leftovers at interpreter exit."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _interrupt)
    atexit.register(run_all)

"""Not collected on its own: test_interrupt_windows.py appends it to an example project's conftest.

It signals the run itself with SIGINT at the window INTERRUPT_WINDOW names,
from the thread that is at the window, and then waits (bounded) for the event
that shows the signal was handled, so the race is hit every time:

  up       `compose up` submitted to its thread, its process not started;
           waits until the teardown the signal started has finished.
  removal  the end-of-session removal running in the main thread; waits
           until the harness's handler has seen this second signal.

The project's name is written to INTERRUPT_REPORT for the parent test.
"""

import os
import signal
import threading
from pathlib import Path

from pytest_microstack import backstop, removal
from pytest_microstack.compose import ProjectCompose
from pytest_microstack.stack import Stack
from pytest_microstack.waiting import wait_for

WINDOW = os.environ.get("INTERRUPT_WINDOW", "")
REPORT = Path(os.environ.get("INTERRUPT_REPORT", os.devnull))
HANDLED_WITHIN = 30.0  # seconds; reached only when the handler never runs
_removed = threading.Event()
_armed = threading.Event()


def _signal_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)


if WINDOW == "up":
    _run_command = ProjectCompose._run_command
    _stop = Stack.stop

    def _run_at_the_window(self, cmd, context=None):
        if "up" in cmd:
            REPORT.write_text(self.project_name)
            _signal_self()
            if not _removed.wait(HANDLED_WITHIN):
                raise AssertionError("the teardown started by the signal did not finish")
        return _run_command(self, cmd, context)

    def _stop_and_tell(self):
        _stop(self)
        _removed.set()

    ProjectCompose._run_command = _run_at_the_window
    Stack.stop = _stop_and_tell

if WINDOW == "removal":
    _remove = removal._remove

    def _remove_at_the_window(resource):
        if _armed.is_set() and threading.main_thread().is_alive():
            _armed.clear()
            project = REPORT.read_text()
            _signal_self()
            wait_for(lambda: backstop.started_early(project), timeout=HANDLED_WITHIN, what="the handler")
        _remove(resource)

    removal._remove = _remove_at_the_window


def arm_removal(project):
    """Called by the test: the next removal is the end-of-session one."""
    REPORT.write_text(project)
    _armed.set()

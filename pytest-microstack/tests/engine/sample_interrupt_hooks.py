"""Not collected on its own: test_interrupt_windows.py copies it into an example project,
whose conftest imports it.

It signals the run itself with SIGINT at the window INTERRUPT_WINDOW names,
from the thread that is at the window, and then waits (bounded) for the event
that shows the signal was handled, so the race is hit every time:

  up       `compose up` submitted to its thread, its process not started;
           waits until the teardown the signal started has finished.
  removal  the first removal after the test wrote the project's name to
           INTERRUPT_REPORT (the end-of-session one); waits until the
           harness's handler has seen this second signal.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from pytest_microstack._cleanup import backstop, removal
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._engine.compose import ProjectCompose

WINDOW = os.environ.get("INTERRUPT_WINDOW", "")
REPORT = Path(os.environ.get("INTERRUPT_REPORT", os.devnull))
HANDLED_WITHIN = 30.0  # seconds; reached only when the handler never runs
_removed = threading.Event()
_fired = threading.Event()


def _signal_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def _install_up_window() -> None:
    run_command = ProjectCompose._run_command
    stop = ComposeStack.stop

    def run_at_the_window(self: ProjectCompose, cmd: Any, context: str | None = None) -> Any:
        if "up" in cmd and not _fired.is_set():
            _fired.set()
            REPORT.write_text(self.project_name)
            _signal_self()
            if not _removed.wait(HANDLED_WITHIN):
                raise AssertionError("the teardown started by the signal did not finish")
        return run_command(self, cmd, context)

    def stop_and_tell(self: ComposeStack) -> None:
        stop(self)
        _removed.set()

    setattr(ProjectCompose, "_run_command", run_at_the_window)  # noqa: B010 - a test's hook
    setattr(ComposeStack, "stop", stop_and_tell)  # noqa: B010 - a test's hook


def _install_removal_window() -> None:
    remove = removal._remove

    def remove_at_the_window(resource: Any) -> None:
        project = REPORT.read_text() if REPORT.is_file() else ""
        if project and not _fired.is_set():
            _fired.set()
            _signal_self()
            wait_for(lambda: backstop.started_early(project), timeout=HANDLED_WITHIN, what="the handler")
        remove(resource)

    setattr(removal, "_remove", remove_at_the_window)  # noqa: B010 - a test's hook


if WINDOW == "up":
    _install_up_window()
elif WINDOW == "removal":
    _install_removal_window()

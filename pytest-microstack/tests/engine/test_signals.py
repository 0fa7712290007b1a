"""Ctrl-C and SIGTERM leave nothing behind; after SIGKILL the next run sweeps it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._cleanup.leftovers import sweep_abandoned
from pytest_microstack._core.waiting import wait_for

from engine.conftest import ctrl_c_as_a_terminal_sends_it, project_resources

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).with_name("sample_hold_stack.py")
# Teardown after a signal: removal through the API (~0.5 s) plus pytest's
# interrupt report; a regression to graceful stops (10 s per container) fails it.
INTERRUPT_BOUND = 10.0


def start_holding_run(project_dir: Path, report: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a child pytest that brings the example stack up and holds it; return it and the project."""
    shutil.copy(SAMPLE, project_dir / "tests" / "test_hold.py")
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "tests/test_hold.py", "-p", "no:cacheprovider", "-q"],
        cwd=project_dir,
        env={**os.environ, "HOLD_STACK_REPORT": str(report), "PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=ctrl_c_as_a_terminal_sends_it,
    )
    try:
        wait_for(lambda: report.exists() and report.read_text(), timeout=120, what="child stack up")
    except BaseException:
        child.kill()
        raise
    return child, report.read_text()


def ended(child: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The child's output once it exits; a failure with what it said so far if it doesn't in `timeout` s."""
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGABRT)  # faulthandler (PYTHONFAULTHANDLER): every thread's stack
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # its compose and docker commands: they hold the pipe
            os.killpg(child.pid, signal.SIGKILL)
        output, _ = child.communicate(timeout=timeout)
        pytest.fail(f"the interrupted run did not end within {timeout:g} s; it said:\n{output.decode()}")
    return output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_removes_its_stack(
    example_project: Path, tmp_path: Path, engine: Any, signum: signal.Signals
) -> None:
    child, project = start_holding_run(example_project, tmp_path / "project")
    assert project_resources(engine, project), "the child's stack should be up"

    started = time.monotonic()
    os.killpg(child.pid, signum)
    output = ended(child, timeout=30)
    elapsed = time.monotonic() - started

    assert child.returncode != 0, output.decode()
    assert project_resources(engine, project) == []
    assert elapsed < INTERRUPT_BOUND, f"interrupted run took {elapsed:.1f} s to clean up"


def test_killed_run_is_swept_by_the_next_one(example_project: Path, tmp_path: Path, engine: Any) -> None:
    child, project = start_holding_run(example_project, tmp_path / "project")

    os.killpg(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    assert project_resources(engine, project), "SIGKILL leaves the stack behind"

    sweep_abandoned(engine)  # what every run does at its start and end
    assert project_resources(engine, project) == []

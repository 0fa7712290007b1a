"""Ctrl-C at the two narrow windows, in a real run on the real engine: nothing is left behind.

A child pytest runs the example project with hooks (sample_interrupt_hooks.py)
that send SIGINT from the thread at the window and wait for the event that
shows it was handled, so each race is hit every time, without sleeps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.conftest import ctrl_c_as_a_terminal_sends_it, project_resources

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
RUN_TIMEOUT = 240  # seconds: a cold build of the example's images plus the run, on 2 loaded cores


def run_with_window(
    project_dir: Path, report: Path, window: str, **env: str
) -> subprocess.CompletedProcess[str]:
    tests = project_dir / "tests"
    shutil.copy(HERE / "sample_interrupt_hooks.py", tests / "interrupt_hooks.py")
    (tests / "conftest.py").write_text((tests / "conftest.py").read_text() + "\nimport interrupt_hooks\n")
    shutil.copy(HERE / "sample_interrupted.py", tests / "test_interrupted.py")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_interrupted.py",
            "-p",
            "no:cacheprovider",
            "--full-trace",
        ],
        cwd=project_dir,
        env={**os.environ, "INTERRUPT_WINDOW": window, "INTERRUPT_REPORT": str(report), **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
        preexec_fn=ctrl_c_as_a_terminal_sends_it,  # the hooks' SIGINT must reach a handler
    )


def test_ctrl_c_between_submitting_up_and_its_start_leaves_nothing(
    example_project: Path, tmp_path: Path, engine: Any
) -> None:
    report = tmp_path / "project"

    result = run_with_window(example_project, report, "up")

    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "not started: the stack is being torn down" in output or "KeyboardInterrupt" in output, output
    project = report.read_text()
    assert project_resources(engine, project) == [], "`up` ran after the teardown and its project leaked"


def test_a_second_ctrl_c_during_removal_still_removes_everything(
    example_project: Path, tmp_path: Path, engine: Any
) -> None:
    report = tmp_path / "project"

    # CI=1: the run removes its stack itself at the end, rather than handing it to the reaper.
    result = run_with_window(example_project, report, "removal", CI="1")

    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "1 passed" in output, output  # the test ran; the Ctrl-C came during the teardown
    assert "pytest_microstack/_cleanup/removal.py:" in output, output  # where the second Ctrl-C landed
    project = report.read_text()
    assert project_resources(engine, project) == [], "a half-removed stack was left behind"

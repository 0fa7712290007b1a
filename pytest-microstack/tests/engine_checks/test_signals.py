"""Ctrl-C and SIGTERM leave nothing behind; after SIGKILL the next run sweeps it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness.plugin import ROOT
from tests.harness.sweeper import sweep_abandoned
from tests.harness.waiting import wait_for

from .conftest import project_resources

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).with_name("sample_hold_stack.py")


def start_holding_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a child pytest that brings a stack up and holds it; return it and the project."""
    report = tmp_path / "project"
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(SAMPLE), "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        env={**os.environ, "HOLD_STACK_REPORT": str(report)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: report.exists() and report.read_text(), timeout=120, what="child stack up")
    except BaseException:
        child.kill()
        raise
    return child, report.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_removes_its_stack(tmp_path: Path, engine: Any, signum: signal.Signals) -> None:
    child, project = start_holding_run(tmp_path)
    assert project_resources(engine, project), "the child's stack should be up"

    started = time.monotonic()
    os.killpg(child.pid, signum)
    output, _ = child.communicate(timeout=30)
    elapsed = time.monotonic() - started

    assert child.returncode != 0, output.decode()
    assert project_resources(engine, project) == []
    assert elapsed < 10, f"interrupted run took {elapsed:.1f} s to clean up"


def test_killed_run_is_swept_by_the_next_one(tmp_path: Path, engine: Any) -> None:
    child, project = start_holding_run(tmp_path)

    os.killpg(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    assert project_resources(engine, project), "SIGKILL leaves the stack behind"

    sweep_abandoned(engine)  # what every run does at its start and end
    assert project_resources(engine, project) == []

"""Loaded into a child pytest by the benchmark (`-p bench.last_test_clock`): when the last test ended.

Records time.time() (comparable across processes; the parent takes the same
clock when the child exits) at three moments, and writes them as JSON to the
file named by BENCH_CLOCK_FILE at pytest_unconfigure:
  last_call_reported  the last test's call phase reported: its result is on screen
  last_test_finished  its logfinish, after its teardown, which for the last test
                      includes tearing down the session fixtures (the stack)
  unconfigured        pytest_unconfigure, the last hook pytest runs
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

CLOCK_FILE_VARIABLE = "BENCH_CLOCK_FILE"
_times: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _times["last_call_reported"] = time.time()


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _times["last_test_finished"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    _times["unconfigured"] = time.time()
    Path(os.environ[CLOCK_FILE_VARIABLE]).write_text(json.dumps(_times))

"""A test that leaves a service broken fails loudly, and the next test still runs on a sound stack."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.plugin import ROOT

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).with_name("sample_breaks_the_stack.py")


def test_a_test_that_breaks_a_service_errors_naming_it() -> None:
    child = subprocess.run(
        [sys.executable, "-m", "pytest", str(SAMPLE), "-p", "no:cacheprovider", "-rA"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    output = child.stdout + child.stderr

    assert child.returncode == 1, output
    assert "2 passed, 1 error" in output  # test_1 itself passed; its teardown errored
    assert "ERROR at teardown of test_1_stops_a_service_behind_the_harness_back" in output
    assert "service 'user-service'" in output
    assert re.search(r"PASSED \S*::test_2_runs_on_a_sound_stack_again", output), output

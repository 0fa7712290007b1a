"""A test that leaves a service broken fails loudly, and the next test still runs on a sound stack."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).with_name("sample_breaks_the_stack.py")


def test_a_test_that_breaks_a_service_errors_naming_it(
    pytester: pytest.Pytester, example_project: Path
) -> None:
    shutil.copy(SAMPLE, example_project / "tests" / "test_breaks.py")

    result = pytester.runpytest_subprocess(
        str(example_project / "tests" / "test_breaks.py"),
        "--rootdir",
        str(example_project),
        "-p",
        "no:cacheprovider",
        "-rA",
        timeout=170,
    )
    output = result.stdout.str()

    assert result.ret == 1, output
    result.assert_outcomes(passed=2, errors=1)  # test_1 itself passed; its teardown errored
    assert "ERROR at teardown of test_1_stops_a_service_behind_the_harness_back" in output
    assert "service 'web'" in output
    assert re.search(r"PASSED \S*::test_2_runs_on_a_sound_stack_again", output), output

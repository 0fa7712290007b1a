"""remote_engines' judgement of the lost-engine run (tools/netns_engine/session.py), on its output."""

from __future__ import annotations

import pytest

from tools.netns_engine.run import RigError
from tools.netns_engine.session import _check_lost_run

LOST = "tcp://10.231.0.6:2375"
SUMMARY = (
    "  tcp://10.231.0.2:2375  2 CPUs, answered in 0.05 s: gw0 ready in 9.1 s, gw2 ready in 9.9 s\n"
    f"  {LOST}  2 CPUs, answered in 0.04 s: gw1 ready in 8.7 s (engine lost), "
    "gw3 ready in 9.0 s (engine lost)\n"
)


def output(*results: str) -> str:
    return "\n".join(results) + "\n" + SUMMARY


def test_failures_on_the_lost_engines_workers_naming_it_pass() -> None:
    text = output(
        "[gw0] [ 10%] PASSED tests/test_a.py::test_one",
        "[gw1] [ 20%] FAILED tests/test_a.py::test_two",
        f"[gw3] [ 30%] ERROR tests/test_a.py::test_three EngineLostError: the engine {LOST} is gone",
        "[gw2] [ 40%] PASSED tests/test_a.py::test_four",
        "[gw0] [ 50%] PASSED tests/test_a.py::test_five",
    )

    _check_lost_run(text, 1, LOST)


@pytest.mark.parametrize(
    ("lines", "returncode", "problem"),
    [
        pytest.param(
            [f"[gw2] [ 10%] FAILED tests/test_a.py::test_one EngineLostError {LOST}"],
            1,
            r"workers \['gw2'\] failed on the engine that stayed",
            id="a-worker-of-the-other-engine-failed",
        ),
        pytest.param(["[gw1] [ 10%] PASSED tests/test_a.py::test_one"], 0, "0 failed", id="nothing-failed"),
        pytest.param(
            ["[gw1] [ 10%] FAILED tests/test_a.py::test_one ConnectionError"],
            1,
            "don't say EngineLostError",
            id="failures-that-dont-say-why",
        ),
        pytest.param(
            [
                f"[gw1] [ 10%] FAILED tests/test_a.py::test_one EngineLostError {LOST}",
                "[gw3] [ 20%] FAILED tests/test_a.py::test_two",
                "[gw1] [ 30%] FAILED tests/test_a.py::test_three",
                "[gw0] [ 40%] PASSED tests/test_a.py::test_four",
                "[gw3] [ 50%] FAILED tests/test_a.py::test_five",
            ],
            1,
            "kept taking tests: 4 results there, against 1",
            id="the-lost-workers-kept-taking-tests",
        ),
    ],
)
def test_anything_else_is_refused(lines: list[str], returncode: int, problem: str) -> None:
    with pytest.raises(RigError, match=problem):
        _check_lost_run(output(*lines), returncode, LOST)

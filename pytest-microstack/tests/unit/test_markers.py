"""The marks the plugin adds (integration, faults) are registered: --strict-markers runs accept them.

Collection only: the marks are added at collection, and nothing starts a stack.
"""

from __future__ import annotations

import pytest

TESTS = """
def test_uses_the_stack(stack):
    pass

def test_breaks_things(faults):
    pass

def test_plain():
    pass
"""


def test_a_strict_markers_run_collects_and_selects_by_the_plugins_marks(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\naddopts = --strict-markers --strict-config\nstack_services =\n    api http 80\n"
    )
    pytester.makepyfile(test_marks=TESTS)

    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "-m", "integration and not faults", "-p", "no:cacheprovider"
    )

    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["test_marks.py::test_uses_the_stack", "*1/3 tests collected (2 deselected)*"]
    )
    markers = pytester.runpytest_subprocess("--markers", "-p", "no:cacheprovider").stdout.str()
    assert "@pytest.mark.integration:" in markers
    assert "@pytest.mark.faults:" in markers


@pytest.mark.parametrize(
    "own_markers",
    ["", "markers =\n    integration: the project's own words\n    faults: breaks things\n"],
    ids=["outside-project", "project-registering-them-too"],
)
def test_markers_lists_each_of_the_plugins_marks_once(pytester: pytest.Pytester, own_markers: str) -> None:
    pytester.makeini(f"[pytest]\nstack_services =\n    api http 80\n{own_markers}")

    markers = pytester.runpytest_subprocess("--markers", "-p", "no:cacheprovider").stdout.str()

    assert markers.count("@pytest.mark.integration:") == 1, markers
    assert markers.count("@pytest.mark.faults:") == 1, markers
    if own_markers:
        assert "@pytest.mark.integration: the project's own words" in markers

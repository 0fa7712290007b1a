"""tools.pytest_args: which of a session's arguments are test paths, and its list checked against pytest's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.pytest_args import VALUE_OPTIONS, paths_given, positionals

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_TEST = "pytest-microstack/tests/engine/test_python_probe.py"
# An option in `pytest --help`: two spaces in, the option and its aliases ("-r chars, --report-chars=chars").
HELP_OPTION = re.compile(r"^  (-[^ ].*?)(?:\s{2,}|$)")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([f"{PLUGIN_TEST}::t"], [f"{PLUGIN_TEST}::t"], id="a-path"),
        pytest.param(["--deselect", f"{PLUGIN_TEST}::t"], [], id="deselect-value"),
        pytest.param([f"--deselect={PLUGIN_TEST}::t"], [], id="deselect-joined"),
        pytest.param(["--ignore", "tests/load", "tests"], ["tests"], id="ignore-value-then-a-path"),
        pytest.param(["-k", "tests", "-x", "tests"], ["tests"], id="k-value-then-a-flag-and-a-path"),
        pytest.param(["-xk", "tests"], [], id="short-cluster-ending-in-k"),
        pytest.param(["-ktests", "tests"], ["tests"], id="k-value-attached"),
        pytest.param(["-xv", "tests"], ["tests"], id="short-flags-only"),
        pytest.param(["--cov", "src", "tests"], ["tests"], id="optional-value-given"),
        pytest.param(["-n", "2", "--dist", "worksteal", "tests"], ["tests"], id="xdist"),
        pytest.param(["--splits", "3", "--group", "2"], [], id="shard"),
        pytest.param(["--", "-odd-name"], ["-odd-name"], id="after-double-dash"),
        pytest.param(["-"], ["-"], id="a-lone-dash"),
        pytest.param(["--stack-artifacts"], [], id="value-missing-at-the-end"),
    ],
)
def test_positionals(args: list[str], expected: list[str]) -> None:
    assert positionals(args) == expected


def test_an_options_value_is_no_path_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """`nox -s podman -- --deselect X` ran the repository's suite in place of the plugin's tests."""
    monkeypatch.chdir(ROOT)
    assert not paths_given(["--deselect", PLUGIN_TEST, "-x"])
    assert paths_given(["--deselect", PLUGIN_TEST, "pytest-microstack/tests/engine"])
    assert paths_given([f"{PLUGIN_TEST}::test_x"])
    assert not paths_given(["no/such/folder"])


def test_every_option_with_a_value_in_pytest_help_is_listed() -> None:
    """pytest and the plugins installed here: a new option with a value must be added to the list."""
    shown = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    with_values = set()
    for line in shown.stdout.splitlines():
        match = HELP_OPTION.match(line)
        for spelling in match.group(1).split(", ") if match else []:
            option_and_value = re.split(r"[= ]", spelling, maxsplit=1)  # "--tb=style", "-k EXPRESSION"
            if len(option_and_value) == 2:
                with_values.add(option_and_value[0])
    assert len(with_values) > 50, with_values  # the parsing found pytest's own
    assert with_values - VALUE_OPTIONS == set()

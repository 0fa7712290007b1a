"""Which of a session's pytest arguments are test paths: an option's value is not one.

`nox -s podman -- --deselect pytest-microstack/tests/x.py::t` names an existing
file, but as `--deselect`'s value: taking it for a path ran the repository's
suite, load test included, in place of the plugin's tests. pytest's parser
knows which options take a value only once its plugins are loaded, so they are
listed here, and tests/tools/test_pytest_args.py checks the list against
`pytest --help` (a plugin's new option fails it until it is added).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Every option that takes a value as the next argument (pytest's own, then its plugins' here),
# including those whose value is optional (`--cov [SOURCE]`: argparse takes a next non-option).
VALUE_OPTIONS = frozenset(
    {
        # pytest
        *("-k", "-m", "-r", "-W", "-c", "-p", "-o"),
        *("--maxfail", "--pdbcls", "--capture", "--durations", "--durations-min", "--verbosity"),
        *("--report-chars", "--tb", "--show-capture", "--color", "--code-highlight", "--pastebin"),
        *("--junit-xml", "--junitxml", "--junit-prefix", "--pythonwarnings", "--max-warnings"),
        *("--ignore", "--ignore-glob", "--deselect", "--confcutdir", "--import-mode", "--doctest-report"),
        *("--doctest-glob", "--config-file", "--rootdir", "--basetemp", "--debug", "--override-ini"),
        *("--assert", "--log-level", "--log-format", "--log-date-format", "--log-cli-level"),
        *("--log-cli-format", "--log-cli-date-format", "--log-file", "--log-file-mode", "--log-file-level"),
        *("--log-file-format", "--log-file-date-format", "--log-auto-indent", "--log-disable"),
        *("--cache-show", "--lfnf", "--last-failed-no-failures"),
        # pytest-split
        *("--durations-path", "--splits", "--group", "--splitting-algorithm"),
        # pytest-xdist
        *("-n", "--numprocesses", "--maxprocesses", "--max-worker-restart", "--dist", "--tx", "--px"),
        *("--rsyncdir", "--rsyncignore", "--testrunuid", "--maxschedchunk"),
        # pytest-microstack
        *("--stack-timeout", "--stack-artifacts", "--stack-engines", "--stack-impact", "--stack-impact-file"),
        # pytest-timeout, pytest-cov
        *("--timeout", "--timeout_method", "--timeout-method", "--session-timeout"),
        *("--cov", "--cov-report", "--cov-config", "--cov-fail-under", "--cov-precision", "--cov-context"),
    }
)


def positionals(args: Sequence[str]) -> list[str]:
    """The arguments that are neither an option nor an option's value (`--opt=v`, `-kv`, `-xk v` too)."""
    found: list[str] = []
    takes_next = False
    for index, arg in enumerate(args):
        if takes_next:
            takes_next = False
        elif arg == "--":  # everything after it is positional
            return found + list(args[index + 1 :])
        elif arg.startswith("--"):
            takes_next = "=" not in arg and arg in VALUE_OPTIONS
        elif arg.startswith("-") and len(arg) > 1:
            takes_next = _short_cluster_takes_next(arg[1:])
        else:
            found.append(arg)
    return found


def _short_cluster_takes_next(letters: str) -> bool:
    """Whether `-xk` (flags, then one option with a value) leaves that value to the next argument."""
    for index, letter in enumerate(letters):
        if f"-{letter}" in VALUE_OPTIONS:
            return index == len(letters) - 1  # else the rest is its value: `-kexpr`
    return False


def paths_given(args: Sequence[str]) -> bool:
    """Whether pytest arguments name a test path: it then replaces a session's default paths."""
    return any(Path(arg.split("::", 1)[0]).exists() for arg in positionals(args))

"""Which tests a run would execute: `pytest --collect-only` in a subprocess, defined once.

The noxfile's junit_report session, the shard tests (tests/ci/test_shards.py) and the
soak all ask this question; each asks it here, so the command and the integration
selection can't drift apart.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the integration sessions run: the load run (tests/load) uses the stack too,
# but is minutes of full load, so only `nox -s load` selects it.
INTEGRATION = "integration and not load"
INTEGRATION_SELECTION = ("-m", INTEGRATION, "tests")
# A collection takes ~1.5 s of one core; a generous bound for a loaded 2-core machine.
COLLECT_TIMEOUT = 120.0


class CollectError(RuntimeError):
    """pytest could not collect: the command, its exit code and its output."""


def collect_command(*args: str) -> list[str]:
    """The command that lists, without running anything, the tests `args` select."""
    return [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args]


def collect_output(*args: str, cwd: Path = ROOT, timeout: float = COLLECT_TIMEOUT) -> str:
    """`pytest --collect-only -q` output for `args`, run in `cwd`; CollectError when pytest fails."""
    command = collect_command(*args)
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise CollectError(
            f"{' '.join(command)} exited {result.returncode} in {cwd}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def node_ids(output: str) -> list[str]:
    """The node ids in `pytest --collect-only -q` output, in order (summary lines left out)."""
    return [line for line in output.splitlines() if "::" in line and not line.startswith("[")]


def collect(*args: str, cwd: Path = ROOT, timeout: float = COLLECT_TIMEOUT) -> list[str]:
    """The node ids a run with `args` would execute, in order."""
    return node_ids(collect_output(*args, cwd=cwd, timeout=timeout))

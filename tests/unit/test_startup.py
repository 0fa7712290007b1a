"""pytest start-up in this repository: only the plugins a run needs load from installed tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Distributions whose pytest11 plugins may load into every run: the stack harness,
# the unit tests' fake HTTP server, xdist, shards, timeouts and coverage.
ALLOWED = {
    "pytest-microstack",
    "pytest_httpserver",
    "pytest-xdist",
    "pytest-split",
    "pytest-timeout",
    "pytest-cov",
}
# What the tools kept out by pytest.ini would import; ~1.2 s of a one-test run.
HEAVY = ("hypothesis", "schemathesis", "anyio", "locust")
# Runs inside a pytest started the way a developer starts one, and reports what loaded.
PROBE = """
import json, os, sys

HEAVY = HEAVY_MODULES

def test_report(pytestconfig):
    plugins = sorted({dist.project_name for _, dist in pytestconfig.pluginmanager.list_plugin_distinfo()})
    imported = sorted(name for name in HEAVY if name in sys.modules)
    with open(os.environ["STARTUP_REPORT"], "w") as report:
        json.dump({"plugins": plugins, "imported": imported}, report)
"""


def startup_report(tmp_path: Path) -> dict[str, list[str]]:
    """Run one trivial test under this repository's pytest.ini; return what loaded."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE.replace("HEAVY_MODULES", repr(HEAVY)))
    report = tmp_path / "report.json"
    env = {**os.environ, "STARTUP_REPORT": str(report)}
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(name, None)
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(ROOT)]
    result = subprocess.run(
        [*command, "-p", "no:cacheprovider", "-q", str(probe)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    loaded: dict[str, list[str]] = json.loads(report.read_text())
    return loaded


def test_only_the_allowed_plugins_autoload(tmp_path: Path) -> None:
    loaded = startup_report(tmp_path)
    unexpected = sorted(set(loaded["plugins"]) - ALLOWED)
    assert unexpected == [], (
        f"pytest plugins of {unexpected} load into every run: add `-p no:<entry point>` to "
        "pytest.ini's addopts (the entry point is in `pytest --trace-config`), or add the "
        "distribution to ALLOWED if every run needs it"
    )
    assert loaded["imported"] == [], f"a one-test run imports {loaded['imported']}"


def test_the_needed_plugins_still_load(tmp_path: Path) -> None:
    assert {"pytest-microstack", "pytest-xdist", "pytest-split", "pytest-timeout"} <= set(
        startup_report(tmp_path)["plugins"]
    )

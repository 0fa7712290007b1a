"""Failure reports and the end-of-run summary, on the example project through the installed plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.test_example_project import assert_nothing_left, left_behind, run_example

pytestmark = pytest.mark.integration

FAILING_TEST = """
from pathlib import Path


def test_sees_the_token_then_fails(stack, service_client):
    token = stack.environment("web")["API_TOKEN"]
    Path(__file__).with_name("token.txt").write_text(token)  # for the checks outside
    assert service_client("web").get("/").status_code == 418, "deliberately failing"


def test_fault_then_pass(faults, service_client):
    with faults.down("kv"):
        pass
"""


def report_folders(artifacts: Path) -> list[Path]:
    return sorted(path for path in artifacts.iterdir() if path.is_dir()) if artifacts.is_dir() else []


def test_a_failed_test_leaves_logs_inspect_and_masked_config_and_the_summary_says_so(
    pytester: pytest.Pytester, example_project: Path, engine: Any, tmp_path: Path
) -> None:
    (example_project / "tests" / "test_example_stack.py").unlink()
    (example_project / "tests" / "test_fails.py").write_text(FAILING_TEST)
    artifacts = tmp_path / "artifacts"

    result = run_example(pytester, example_project, "-n", "2", "--stack-artifacts", str(artifacts))

    result.assert_outcomes(passed=1, failed=1)
    [report] = report_folders(artifacts)
    assert report.name.endswith("test_sees_the_token_then_fails") or "test_sees_the_token" in report.name
    names = {path.name for path in report.iterdir()}
    assert {
        "failure.txt",
        "containers.txt",
        "compose.effective.yaml",
        "web-1.log",
        "web-1.inspect.json",
    } <= names
    assert {"kv-1.log", "worker-1.log", "kv-1.inspect.json", "worker-1.inspect.json"} <= names
    assert "deliberately failing" in (report / "failure.txt").read_text()
    inspect = json.loads((report / "web-1.inspect.json").read_text())
    assert "API_TOKEN=***" in inspect["Config"]["Env"]
    effective = yaml.safe_load((report / "compose.effective.yaml").read_text())
    assert effective["services"]["web"]["environment"]["API_TOKEN"] == "***"
    assert effective["services"]["web"]["labels"]["io.microstack.harness"] == "1"  # the override is in it
    token = (example_project / "tests" / "token.txt").read_text()
    assert len(token) >= 32
    assert [path.name for path in report.iterdir() if token in path.read_text()] == []
    # The controller prints the workers' figures.
    result.stdout.fnmatch_lines(
        [
            "*- microstack -*",
            "stacks: * started",
            "start-up, until ready:",
            "  web *",
            "waiting for readiness: *",
            "faults: 1 injected in *, 1 healed in *",
            f"failure reports: 1 in {artifacts}",
        ]
    )
    assert_nothing_left(engine, example_project)  # outside CI, by the detached reaper


def test_a_failed_start_up_saves_a_report_taken_before_the_teardown(
    pytester: pytest.Pytester, example_project: Path, engine: Any, tmp_path: Path
) -> None:
    ini = example_project / "pytest.ini"
    ini.write_text(ini.read_text().replace("GREETING=hello from the tests", "CRASH_AT_BOOT=bad-config"))
    artifacts = tmp_path / "artifacts"

    result = run_example(pytester, example_project, "-k", "worker", "--stack-artifacts", str(artifacts))

    result.assert_outcomes(errors=1)
    [report] = report_folders(artifacts)
    assert report.name.startswith("startup-")
    assert "CRASH_AT_BOOT=bad-config" in (report / "web-1.log").read_text()
    assert "exited" in (report / "containers.txt").read_text()
    result.stdout.fnmatch_lines(["stacks: 0 started, 1 failed to start", "failure reports: 1 in *"])
    assert left_behind(engine, example_project) == []

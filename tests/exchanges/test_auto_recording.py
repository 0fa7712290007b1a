"""`stack_exchanges = auto` (the plugin's default): proxies only for a run whose selected tests use `doubles`.

Each run is a pytest of its own (its own stack), with this repository's pytest.ini
but `stack_exchanges` set back to its default: what a project that never mentions
the setting gets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exchanges.test_planted_failure import OWN_RUN_ENVIRONMENT, REPOSITORY

pytestmark = pytest.mark.integration
RUN_TIMEOUT = 300  # seconds: a stack's start on two loaded cores, as the planted failure's run
TESTS = """
def test_plain(stack):
    print("proxied:", sorted(stack.fronts))


def test_with_a_double(doubles, service_client):
    doubles["user-service"].on("GET", "/health").respond(418, b"teapot")
    assert service_client("user-service").get("/health").status_code == 418
"""


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tests = folder / "test_auto.py"
    tests.write_text(TESTS)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(tests), "-c", str(REPOSITORY / "pytest.ini"),
         "--rootdir", str(REPOSITORY), "-p", "no:cacheprovider", "-p", "no:randomly", "-s",
         "-o", "stack_exchanges=auto", *args],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
        env=OWN_RUN_ENVIRONMENT,
    )  # fmt: skip


def test_a_run_whose_tests_use_no_doubles_starts_no_proxy_and_still_gets_its_timeline(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"

    result = run(tmp_path, "-k", "plain", "--stack-artifacts", str(artifacts))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "proxied: []" in result.stdout
    [timeline] = artifacts.glob("timeline-*.html")
    page = timeline.read_text()
    data = json.loads(page.split("id='timeline-data'>", 1)[1].split("</script>", 1)[0])
    assert data["services"] == ["user-service", "product-service"]
    assert [test["nodeid"].rsplit("::", 1)[-1] for test in data["tests"]] == ["test_plain"]
    assert data["exchanges"] == []


def test_a_run_with_a_test_using_doubles_proxies_every_declared_service(tmp_path: Path) -> None:
    result = run(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "proxied: ['product-service', 'user-service']" in result.stdout
    assert "2 passed" in result.stdout

"""Doubles on a kept stack (`--reuse-stack`): a rule lives for its test only, in this run and the next.

Two runs of their own attach to one kept stack, as a developer's would (outside CI:
`--reuse-stack` is refused in CI). The stack is removed at the end with the command
the run prints for it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.exchanges.test_planted_failure import OWN_RUN_ENVIRONMENT, REPOSITORY

pytestmark = pytest.mark.integration
RUN_TIMEOUT = 300  # seconds: a stack's start on two loaded cores, as the planted failure's run
DEVELOPER = {name: value for name, value in OWN_RUN_ENVIRONMENT.items() if name != "CI"}
TESTS = """
def test_a_double_answers(doubles, service_client):
    doubles["user-service"].on("GET", "/health").respond(418, b"teapot")
    assert service_client("user-service").get("/health").status_code == 418
    assert doubles["user-service"].calls[-1].path == "/health"


def test_the_next_test_gets_the_real_service(service_client):
    assert service_client("user-service").get("/health").status_code == 200
"""
KEPT = re.compile(r"stack (\S+) left running")
REMOVE = re.compile(r"remove it: (docker compose -p \S+ down -v)")


def run(folder: Path) -> subprocess.CompletedProcess[str]:
    tests = folder / "test_kept.py"
    tests.write_text(TESTS)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(tests), "-c", str(REPOSITORY / "pytest.ini"),
         "--rootdir", str(REPOSITORY), "-p", "no:cacheprovider", "-p", "no:randomly", "--reuse-stack"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False, env=DEVELOPER,
    )  # fmt: skip


def test_doubles_work_on_a_kept_stack_and_leave_it_as_it_was(tmp_path: Path) -> None:
    first = run(tmp_path)
    kept = KEPT.search(first.stdout)
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        assert kept is not None, first.stdout
        assert "1 started" in first.stdout

        second = run(tmp_path)

        assert second.returncode == 0, second.stdout + second.stderr
        assert "1 reused" in second.stdout, second.stdout
        again = KEPT.search(second.stdout)
        assert again is not None
        assert again.group(1) == kept.group(1), "attached to the stack the first run kept"
    finally:
        removal = REMOVE.search(first.stdout)
        if removal is not None:
            subprocess.run(removal.group(1).split(), capture_output=True, timeout=RUN_TIMEOUT, check=False)
    project = kept.group(1)
    client = docker.from_env()
    label = f"com.docker.compose.project={project}"
    assert client.containers.list(all=True, filters={"label": label}) == []
    assert client.networks.list(filters={"label": label}) == []

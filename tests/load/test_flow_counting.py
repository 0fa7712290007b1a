"""The flow counts each planned user once, whatever locust does (issue 18, defect 11).

Runs the locustfile's own user class in a subprocess (importing locust patches
the whole process with gevent), without a stack: users started beyond the plan,
as locust starts them again while it is still spawning, must not be counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.load, pytest.mark.timeout(120)]

LOCUSTFILE = Path(__file__).resolve().parents[2] / "tools" / "load" / "locustfile.py"
USERS, ITERATIONS, RESTARTS = 4, 3, 2
SIMULATION = """
import importlib.util, sys
from types import SimpleNamespace
from locust.exception import StopUser

spec = importlib.util.spec_from_file_location("flow_locustfile", sys.argv[1])
flow = importlib.util.module_from_spec(spec)
spec.loader.exec_module(flow)
environment = SimpleNamespace(
    runner=SimpleNamespace(quit=lambda: None), stats=SimpleNamespace(entries={}, errors={})
)
running = []
for _ in range(int(sys.argv[2])):  # every user locust starts, restarts included
    user = SimpleNamespace(environment=environment)
    try:
        flow.Shopper.on_start(user)
    except StopUser:
        continue
    running.append(user)
for user in running:  # each runs its iterations to the end
    try:
        while True:
            flow.Shopper._count_iteration(user)
    except StopUser:
        pass
flow.save_results(environment)
"""


def test_users_started_again_are_not_counted_twice(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    environment = {
        "LOAD_USER_SERVICE_URL": "http://127.0.0.1:9",
        "LOAD_USERS": str(USERS),
        "LOAD_ITERATIONS": str(ITERATIONS),
        "LOAD_TOKEN_REUSE": "2",
        "LOAD_CREDENTIALS": json.dumps([{"username": f"u{n}", "password": "p"} for n in range(USERS)]),
        "LOAD_RESULTS_FILE": str(results),
    }
    done = subprocess.run(
        [sys.executable, "-c", SIMULATION, str(LOCUSTFILE), str(USERS + RESTARTS)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(results.read_text())["finished_users"] == USERS

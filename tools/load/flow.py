"""Run the locust flow headless in its own process and read its figures.

locust monkey-patches the standard library with gevent when imported, so it
never runs inside pytest's process: it runs as `locust` from the same venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class PathFigures:
    """locust's figures for one request name."""

    label: str
    requests: int
    failures: int
    requests_per_second: float
    latency_ms: dict[str, float]


@dataclass(frozen=True)
class FlowResult:
    paths: list[PathFigures]
    created: list[dict[str, Any]]
    finished_users: int
    seconds: float
    failures: list[dict[str, Any]]
    exit_code: int


def run_flow(
    *,
    product_service_url: str,
    user_service_url: str,
    credentials: list[dict[str, str]],
    users: int,
    iterations: int,
    token_reuse: int,
    max_seconds: int,
    workdir: Path,
) -> FlowResult:
    """`users` concurrent users, `iterations` flows each, stopping at `max_seconds` at the latest."""
    for url in (product_service_url, user_service_url):
        assert urlsplit(url).hostname == "127.0.0.1", f"load goes to loopback only, not {url}"
    results_file = workdir / "flow-created.json"
    environment = {
        **os.environ,
        "LOAD_USER_SERVICE_URL": user_service_url,
        "LOAD_USERS": str(users),
        "LOAD_ITERATIONS": str(iterations),
        "LOAD_TOKEN_REUSE": str(token_reuse),
        "LOAD_CREDENTIALS": json.dumps(credentials),
        "LOAD_RESULTS_FILE": str(results_file),
    }
    command = [
        str(Path(sys.executable).with_name("locust")),
        f"--locustfile={LOCUSTFILE}",
        "--headless",
        f"--host={product_service_url}",
        f"--users={users}",
        # 4 new users a second: their first logins (a password hash each) don't
        # all land in the same instant.
        "--spawn-rate=4",
        f"--run-time={max_seconds}s",
        "--stop-timeout=10",
        "--only-summary",
        f"--logfile={workdir / 'locust.log'}",
    ]
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=max_seconds + 60, check=False
    )
    assert results_file.exists(), f"locust wrote no results (exit {done.returncode}):\n{done.stderr[-3000:]}"
    saved: dict[str, Any] = json.loads(results_file.read_text())
    paths = [PathFigures(**figures) for figures in saved["paths"]]
    seconds = max(
        (figures.requests / figures.requests_per_second for figures in paths if figures.requests_per_second),
        default=0.0,
    )
    return FlowResult(
        paths, saved["created"], saved["finished_users"], seconds, saved["failures"], done.returncode
    )

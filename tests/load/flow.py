"""Run the locust flow headless in its own process and read its figures.

locust monkey-patches the standard library with gevent when imported, so it
never runs inside pytest's process: it runs as `locust` from the same venv.
"""

from __future__ import annotations

import csv
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
    failures: list[dict[str, str]]
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
    prefix = workdir / "flow"
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
        f"--spawn-rate={users}",
        f"--run-time={max_seconds}s",
        "--stop-timeout=10",
        f"--csv={prefix}",
        "--only-summary",
        f"--logfile={workdir / 'locust.log'}",
    ]
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=max_seconds + 60, check=False
    )
    saved: dict[str, Any] = {"created": [], "finished_users": 0}
    if results_file.exists():
        saved = json.loads(results_file.read_text())
    paths, seconds = _read_stats(Path(f"{prefix}_stats.csv"))
    failures = _read_rows(Path(f"{prefix}_failures.csv"))
    return FlowResult(paths, saved["created"], saved["finished_users"], seconds, failures, done.returncode)


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _read_stats(path: Path) -> tuple[list[PathFigures], float]:
    rows = _read_rows(path)
    assert rows, f"locust wrote no statistics to {path}"
    figures, seconds = [], 0.0
    for row in rows:
        requests = int(row["Request Count"])
        rate = float(row["Requests/s"])
        if row["Name"] == "Aggregated":
            seconds = requests / rate if rate else 0.0
            continue
        figures.append(
            PathFigures(
                label=f"{row['Name']}",
                requests=requests,
                failures=int(row["Failure Count"]),
                requests_per_second=rate,
                latency_ms={
                    "p50": float(row["50%"]),
                    "p95": float(row["95%"]),
                    "p99": float(row["99%"]),
                    "max": float(row["Max Response Time"]),
                    "mean": float(row["Average Response Time"]),
                },
            )
        )
    return figures, seconds

"""Drive one fixed path with wrk, bounded in requests and time, and read its figures."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SCRIPT = Path(__file__).with_name("wrk_bounded.lua")
THREADS = 2  # one per core of the 2-core machine


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured for one path."""

    label: str
    connections: int
    requests: int
    seconds: float
    ok: int
    client_errors: int
    server_errors: int
    socket_errors: int
    latency_ms: dict[str, float]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.client_errors + self.server_errors + self.socket_errors


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (scripts/bootstrap does, as root)")
    return found


def run_wrk(
    label: str, url: str, *, requests: int, connections: int, max_seconds: float, headers: dict[str, str]
) -> WrkResult:
    """Send `requests` requests (or as many as `max_seconds` allow) over `connections` connections."""
    assert urlsplit(url).hostname == "127.0.0.1", f"load goes to loopback only, not {url}"
    per_thread = -(-requests // THREADS)
    command = [
        wrk_path(),
        f"--threads={THREADS}",
        f"--connections={connections}",
        f"--duration={int(max_seconds)}s",
        "--timeout=10s",
        f"--script={SCRIPT}",
        *(f"--header={name}: {value}" for name, value in headers.items()),
        url,
        "--",
        str(per_thread),
    ]
    output = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        done_threads = 0
        for line in process.stdout:
            output.append(line)
            if line.startswith("WRK_THREAD_DONE"):
                done_threads += 1
                if done_threads == THREADS:
                    process.send_signal(signal.SIGINT)  # all counted: stop now, not at --duration
        process.wait(timeout=30)
    lines = [line for line in output if line.startswith("WRK_JSON ")]
    assert lines, "wrk printed no figures:\n" + "".join(output)
    raw: dict[str, Any] = json.loads(lines[-1].removeprefix("WRK_JSON "))
    sockets = raw["socket_errors"]
    return WrkResult(
        label=label,
        connections=connections,
        requests=raw["responses"],
        seconds=raw["duration_us"] / 1e6,
        ok=raw["ok"],
        client_errors=raw["client_errors"],
        server_errors=raw["server_errors"],
        socket_errors=sum(sockets.values()),
        latency_ms={name: value / 1000 for name, value in raw["latency_us"].items()},
    )

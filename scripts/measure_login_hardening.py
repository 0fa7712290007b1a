"""Issue 18's figures for user-service, measured on a local gunicorn on 127.0.0.1 only.

    .venv/bin/python scripts/measure_login_hardening.py [--json FILE]

Starts user-service as the images run it (gunicorn.conf.py: 2 workers x 4 threads,
default limits) on a free loopback port with a throw-away database, then measures:

1. unlock attempts refused: an account locked by 10 failures, the table then full
   of 10,000 live counters (another spray's), then failed logins for random names
   from 10 loopback source addresses (127.0.0.2-11, each under its own limit), each
   round followed by the locked account's correct password;
2. /users/authenticate latency (p50, p99) alone, then under a flood of 96
   concurrent sign-ups, and what the sign-ups got;
3. the overshoot: 32 concurrent wrong passwords for one account against its limit
   of 10, each sent again after a 503 (how many were judged, 401, beyond 10);
4. a wrong password's time for a current account and for one still in an older
   scheme (werkzeug scrypt).

Every phase is bounded in count and in time; nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "services" / "user-service" / "gunicorn.conf.py"
HOST = "127.0.0.1"
BOOT_SECONDS = 30.0
REQUEST_TIMEOUT = 10.0
FLOOD_SIGNUPS, FLOOD_EACH = 96, 4
AUTH_SAMPLES = 300
GUESSES, ACCOUNT_LIMIT = 32, 10
MAX_KEYS = 10_000
BUSY_RETRIES = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def call(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    source: str = HOST,
    **headers: str,
) -> tuple[int, float, bytes]:
    """One request on its own connection; (status, seconds, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT, source_address=(source, 0))
    data = json.dumps(body).encode() if body is not None else None
    started = time.perf_counter()
    try:
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        payload = response.read()
        return response.status, time.perf_counter() - started, payload
    finally:
        conn.close()


@contextmanager
def gunicorn(db_path: Path, conf: Path) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_PATH": str(db_path),
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--bind", f"{HOST}:{port}"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            try:
                if call(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer on {HOST}:{port} within {BOOT_SECONDS} s")
            time.sleep(0.05)  # polling gunicorn's port under the deadline above
        yield port
    finally:
        process.terminate()
        process.wait(timeout=REQUEST_TIMEOUT)


def sign_up(port: int, username: str, password: str = "s3cret-pass") -> None:
    status, _, body = call(port, "POST", "/users", {"username": username, "password": password})
    assert status == 201, (status, body)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def unlock_attempts(port: int, db_path: Path) -> dict[str, Any]:
    sign_up(port, "victim")
    for _ in range(ACCOUNT_LIMIT):
        call(port, "POST", "/auth/token", {"username": "victim", "password": "wrong-password"})
    now = time.time()
    with sqlite3.connect(db_path) as conn:  # another spray's live counters, newer than the lock
        conn.executemany(
            "INSERT OR IGNORE INTO login_failures (key, failures, window_start) VALUES (?, 1, ?)",
            [(f"account:spray{i}", now + i / 1e6) for i in range(MAX_KEYS)],
        )
    statuses: Counter[int] = Counter()
    for address in range(2, 12):
        source = f"127.0.0.{address}"
        for number in range(9):
            call(
                port,
                "POST",
                "/auth/token",
                {"username": f"r{address}-{number}", "password": "x"},
                source=source,
            )
        statuses[call(port, "POST", "/auth/token", {"username": "victim", "password": "s3cret-pass"})[0]] += 1
    return {"attempts": sum(statuses.values()), "refused_429": statuses[429], "statuses": dict(statuses)}


def authenticate_under_flood(port: int) -> dict[str, Any]:
    sign_up(port, "reader")
    status, _, body = call(port, "POST", "/auth/token", {"username": "reader", "password": "s3cret-pass"})
    assert status == 200, body
    bearer = {"Authorization": "Bearer " + json.loads(body)["access_token"]}

    def sample(count: int) -> list[float]:
        times = []
        for _ in range(count):
            status, seconds, _ = call(port, "GET", "/users/authenticate", **bearer)
            assert status == 200, status
            times.append(seconds)
        return times

    quiet = sample(AUTH_SAMPLES // 3)
    outcomes: Counter[int] = Counter()
    signup_times: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def flood(worker: int) -> None:
        for number in range(FLOOD_EACH):
            if stop.is_set():
                return
            try:
                status, seconds, _ = call(
                    port, "POST", "/users", {"username": f"f{worker}-{number}", "password": "s3cret-pass"}
                )
            except OSError:
                status, seconds = 0, REQUEST_TIMEOUT
            with lock:
                outcomes[status] += 1
                signup_times.append(seconds)

    threads = [threading.Thread(target=flood, args=(worker,)) for worker in range(FLOOD_SIGNUPS)]
    for thread in threads:
        thread.start()
    try:
        loaded = sample(AUTH_SAMPLES)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return {
        "authenticate_quiet_ms": {
            "p50": 1000 * statistics.median(quiet),
            "p99": 1000 * percentile(quiet, 0.99),
        },
        "authenticate_under_flood_ms": {
            "p50": 1000 * statistics.median(loaded),
            "p99": 1000 * percentile(loaded, 0.99),
            "max": 1000 * max(loaded),
            "samples": len(loaded),
        },
        "signups": {
            "sent": sum(outcomes.values()),
            "statuses": dict(outcomes),
            "p99_ms": 1000 * percentile(signup_times, 0.99),
        },
    }


def overshoot(port: int) -> dict[str, Any]:
    sign_up(port, "target")
    barrier = threading.Barrier(GUESSES)
    statuses: list[int] = []

    def guess(number: int) -> None:
        barrier.wait(timeout=30)
        for _ in range(BUSY_RETRIES):  # a 503 (no hash slot) judged nothing: send it again
            status = call(port, "POST", "/auth/token", {"username": "target", "password": f"guess-{number}"})[
                0
            ]
            if status != 503:
                break
            time.sleep(0.05)  # a client's back-off before sending the guess again
        statuses.append(status)

    threads = [threading.Thread(target=guess, args=(number,)) for number in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    judged = statuses.count(401)
    return {
        "guesses": GUESSES,
        "limit": ACCOUNT_LIMIT,
        "judged_401": judged,
        "overshoot": judged - ACCOUNT_LIMIT,
        "statuses": dict(Counter(statuses)),
    }


def wrong_password_times(port: int, db_path: Path) -> dict[str, Any]:
    from werkzeug.security import generate_password_hash

    sign_up(port, "current")
    sign_up(port, "legacy")
    with sqlite3.connect(db_path) as conn:
        legacy = generate_password_hash("s3cret-pass", method="scrypt")
        conn.execute("UPDATE users SET password_hash = ? WHERE username = 'legacy'", (legacy,))
    figures = {}
    for name in ("current", "legacy"):
        times = [
            call(
                port,
                "POST",
                "/auth/token",
                {"username": name, "password": f"wrong-{n}"},
                source=f"127.0.1.{n}",
            )[1]
            for n in range(5)
        ]
        figures[f"{name}_median_ms"] = 1000 * statistics.median(times)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--gunicorn-conf",
        type=Path,
        default=GUNICORN_CONF,
        help="another checkout's (with PYTHONPATH to its code)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "users.db"
        with gunicorn(db_path, args.gunicorn_conf) as port:
            results["unlock"] = unlock_attempts(port, db_path)
        (Path(folder) / "users.db").unlink()
        db_path = Path(folder) / "users2.db"
        with gunicorn(db_path, args.gunicorn_conf) as port:
            results["flood"] = authenticate_under_flood(port)
            results["overshoot"] = overshoot(port)
            results["wrong_password"] = wrong_password_times(port, db_path)
    results["load_average_1m"] = os.getloadavg()[0]
    text = json.dumps(results, indent=2)
    print(text)  # noqa: T201 - the script's output
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()

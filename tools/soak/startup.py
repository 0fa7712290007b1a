"""Ctrl-C at random moments of start-up: once the run exits, nothing of it is left on the engine.

nox -s soak -- --startup-interrupts                 # 12 runs or 10 minutes, whichever ends first
nox -s soak -- --startup-interrupts --runs 5 --seed 7

A first run, not interrupted, measures how long start-up takes here (from the
moment its test begins to its first result). Each run after it runs one fast
integration test and gets SIGINT, sent to its process group as a terminal's
Ctrl-C is, at a moment drawn uniformly from that span: during the sweep, the
config read, the image check, `compose up` or the readiness wait. When the run
has exited, the engine is asked for the run's containers, networks and volumes
at once and again LATE_LOOK seconds later (a request compose sent before it
was killed completes inside the engine afterwards: the window of issue 24
§11). Any resource found is a leak; the soak fails unless there are none.
Bounded: --runs and --minutes, each run RUN_LIMIT seconds; 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest_microstack._engine.engine import connect
from pytest_microstack._ownership import PROJECT_PREFIX

from .phases import engine_resources

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/test_inter_service_flow.py::test_validate_user_goes_through_user_service"
RUN_LIMIT = 300.0  # seconds a run may take before it counts as hung
LATE_LOOK = 10.0  # seconds after exit for the second look (Docker completes in-flight requests in < 1 s)
POLL = 0.02
_BEGUN = re.compile(r"^\S+\.py::\S+", re.MULTILINE)
_RESULT = re.compile(r"\b(PASSED|FAILED|ERROR)\b")


def _start(run_id: str) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key not in {"CI", "PYTHONPATH"}}
    env.update(MICROSTACK_RUN_ID=run_id, PYTHONUNBUFFERED="1", CI="1")  # CI: the run removes its own stack
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:randomly", TEST]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def _read_until(
    process: subprocess.Popen[bytes], pattern: re.Pattern[str], output: list[bytes]
) -> float | None:
    """Read the run's output until `pattern` shows; returns the moment it did (None: the run ended)."""
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    deadline = time.monotonic() + RUN_LIMIT
    while time.monotonic() < deadline:
        chunk = process.stdout.read()
        if chunk:
            output.append(chunk)
            if pattern.search(b"".join(output).decode(errors="replace")):
                return time.monotonic()
        elif process.poll() is not None:
            return None
        time.sleep(POLL)  # polling a pipe, not synchronisation
    return None


def _finish(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def calibrate(run_id: str) -> float:
    """Seconds from the test's start to its result, on a run not interrupted."""
    process = _start(run_id)
    output: list[bytes] = []
    begun = _read_until(process, _BEGUN, output)
    done = _read_until(process, _RESULT, output)
    code = _finish(process)
    if begun is None or done is None or code != 0:
        sys.exit(
            f"soak: the calibration run failed (exit {code}):\n{b''.join(output).decode(errors='replace')}"
        )
    return done - begun


def interrupted_run(client: Any, run_id: str, delay: float) -> dict[str, Any]:
    """One run, SIGINT `delay` seconds after its test began; what was left at its exit and after."""
    process = _start(run_id)
    output: list[bytes] = []
    begun = _read_until(process, _BEGUN, output)
    sent = None
    if begun is not None:
        time.sleep(max(0.0, begun + delay - time.monotonic()))  # the planned moment of the Ctrl-C
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            sent = time.monotonic() - begun
    code = _finish(process)
    exited = time.monotonic()
    prefix = f"{PROJECT_PREFIX}{run_id}-"
    left = engine_resources(client, prefix, volumes=True)
    at_exit = left.count
    assert process.stdout is not None
    output.append(process.stdout.read() or b"")
    time.sleep(max(0.0, exited + LATE_LOOK - time.monotonic()))  # the second look, at a stated moment
    late = engine_resources(client, prefix, volumes=True).count
    return {
        "run_id": run_id,
        "planned_seconds": round(delay, 3),
        "sigint_at_seconds": None if sent is None else round(sent, 3),
        "exit_code": code,
        "left_at_exit": at_exit,
        f"left_{LATE_LOOK:g}s_after_exit": late,
        "left_kinds": {
            "containers": [state for found in left.containers.values() for state, _ in found],
            "networks": sum(left.networks.values()),
            "volumes": sum(left.volumes.values()),
        },
        # What the run printed, for a run that left something: where the Ctrl-C landed.
        "output_tail": b"".join(output).decode(errors="replace")[-6000:] if at_exit or late else "",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak --startup-interrupts", description=__doc__)
    parser.add_argument("--runs", type=int, default=12, help="interrupted runs at most (default 12)")
    parser.add_argument("--minutes", type=float, default=10.0, help="start no run after this (default 10)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--within",
        type=float,
        nargs=2,
        default=(0.0, 1.0),
        metavar=("FROM", "TO"),
        help="the share of start-up to send the Ctrl-C in (default 0 1: all of it)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".artifacts" / "soak-startup.json")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    soak_id = f"ssu{secrets.token_hex(2)}"
    client = connect().client
    startup = calibrate(f"{soak_id}cal")
    print(
        f"soak {soak_id}: seed {seed}; start-up takes {startup:.2f} s here; SIGINT uniformly within it",
        flush=True,
    )
    ends = time.monotonic() + args.minutes * 60
    results = []
    for number in range(args.runs):
        if time.monotonic() >= ends:
            break
        low, high = args.within
        result = interrupted_run(client, f"{soak_id}{number:03d}", rng.uniform(low * startup, high * startup))
        results.append(result)
        print(json.dumps(result), flush=True)
    leaks = sum(r["left_at_exit"] + r[f"left_{LATE_LOOK:g}s_after_exit"] for r in results)
    interrupted = [r for r in results if r["sigint_at_seconds"] is not None]
    odd = [r for r in interrupted if r["exit_code"] != 2]
    summary = {
        "soak_id": soak_id,
        "seed": seed,
        "startup_seconds": round(startup, 3),
        "runs": len(results),
        "interrupted": len(interrupted),
        "not_exit_2": len(odd),
        "leaked_resources": leaks,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"soak {soak_id}: {len(interrupted)} of {len(results)} runs interrupted in start-up; "
        f"{leaks} resources left at exit or {LATE_LOOK:g} s after; "
        f"{len(odd)} not ending as an interrupt (exit 2)",
        flush=True,
    )
    return 1 if leaks or odd else 0

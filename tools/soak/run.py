"""One soak run: a pytest process on a subset of the integration suite, watched, perhaps killed.

The run is started in a process group of its own (as a terminal or a CI
runner starts a job) and given its run id, so its compose projects are
`microstack-it-<run id>-<worker>`. A watcher polls its output and the engine
for the phase it is in and, when the run's plan says so, signals the whole
group in the planned phase: SIGINT (Ctrl-C), SIGTERM (CI cancelling a job)
or SIGKILL (the OOM killer, a runner that gives up).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_microstack._ownership import PROJECT_PREFIX

from .phases import PHASES, engine_resources, phase

POLL = 0.05  # seconds between looks at the output and the engine
RUN_LIMIT = 300.0  # seconds a run may take before it counts as hung and is killed
EXIT_AFTER_SIGNAL = 120.0  # seconds an interrupted run may take to clean up and exit
GONE_AFTER_EXIT = 60.0  # seconds for a finished run's stacks to disappear (the reaper is detached)


@dataclass
class Plan:
    """What a run does: which tests, how, and whether (when, how) it is killed."""

    run_id: str
    tests: list[str]
    workers: int  # 0: serial; 2: -n 2
    wait_for_teardown: bool  # CI=1: the run removes its stacks itself instead of handing them to the reaper
    kill_phase: str | None = None
    kill_signal: str | None = None
    paired: bool = False  # started together with another run from the same checkout

    @property
    def prefix(self) -> str:
        return f"{PROJECT_PREFIX}{self.run_id}-"


@dataclass
class Outcome:
    """What happened to a run."""

    plan: Plan
    seconds: float = 0.0
    exit_code: int | None = None
    killed_in: str | None = None  # the phase the signal was sent in
    phases_seen: list[str] = field(default_factory=list)
    exit_seconds_after_signal: float | None = None
    left_at_exit: int = 0  # containers, networks of its projects when it exited
    gone_seconds: float | None = None  # after a clean exit: until its stacks were removed
    hung: bool = False
    kill_missed: bool = False  # planned, but the run ended before its phase came
    output_tail: str = ""

    @property
    def killed(self) -> bool:
        return self.killed_in is not None

    @property
    def flaky(self) -> bool:
        """A run that was not killed and failed, hung or left its stacks behind."""
        return self.hung or (not self.killed and (self.exit_code != 0 or self.gone_seconds is None))

    @property
    def odd_exit(self) -> bool:
        """SIGINT or SIGTERM that the run didn't end as an interrupt (e.g. it came after the session)."""
        return self.killed and self.plan.kill_signal != "SIGKILL" and self.exit_code != 2

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.plan.run_id,
            "tests": self.plan.tests,
            "workers": self.plan.workers,
            "paired": self.plan.paired,
            "wait_for_teardown": self.plan.wait_for_teardown,
            "planned_kill": [self.plan.kill_signal, self.plan.kill_phase] if self.plan.kill_signal else None,
            "killed_in": self.killed_in,
            "signal": self.plan.kill_signal if self.killed else None,
            "phases_seen": self.phases_seen,
            "seconds": round(self.seconds, 2),
            "exit_code": self.exit_code,
            "exit_seconds_after_signal": self.exit_seconds_after_signal,
            "left_at_exit": self.left_at_exit,
            "gone_seconds": self.gone_seconds,
            "hung": self.hung,
            "kill_missed": self.kill_missed,
            "flaky": self.flaky,
            # For flakes, and for interrupted runs that did not end as an interrupt (exit 2).
            "output_tail": self.output_tail if self.flaky or self.odd_exit else "",
        }


class _Output:
    """A process's combined output, read as it comes (pytest writes a test's name before its result)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout.fileno(),), daemon=True)
        self._thread.start()

    def _read(self, fd: int) -> None:
        while chunk := os.read(fd, 65536):
            with self._lock:
                self._chunks.append(chunk)

    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode(errors="replace")

    def finish(self) -> str:
        self._thread.join(10)
        return self.text()


def command(plan: Plan) -> list[str]:
    workers = ["-n", str(plan.workers)] if plan.workers else []
    return [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "integration",
        "-v",
        "-rN",
        "-p",
        "no:cacheprovider",
        *workers,
        *plan.tests,
    ]


def environment(plan: Plan) -> dict[str, str]:
    # CI is the plan's choice; PYTHONPATH (set by `nox -s soak` to find this package) is not the run's.
    env = {key: value for key, value in os.environ.items() if key not in {"CI", "PYTHONPATH"}}
    env.update(MICROSTACK_RUN_ID=plan.run_id, PYTHONUNBUFFERED="1")
    if plan.wait_for_teardown:
        env["CI"] = "1"
    return env


def execute(plan: Plan, client: Any, root: Path, rng: random.Random) -> Outcome:
    """Run the plan to its end and report; never raises for what the run does."""
    outcome = Outcome(plan)
    started = time.monotonic()
    process = subprocess.Popen(
        command(plan),
        cwd=root,
        env=environment(plan),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = _Output(process)
    linger = 0  # polls to stay in the target phase before the signal: a random moment within it
    target = PHASES.index(plan.kill_phase) if plan.kill_phase else None
    try:
        while process.poll() is None:
            now = phase(output.text(), engine_resources(client, plan.prefix), len(plan.tests))
            if now is not None and (not outcome.phases_seen or outcome.phases_seen[-1] != now):
                outcome.phases_seen.append(now)
                linger = rng.randint(0, 6) if now in {"mid-test", "fault"} else 0
            # The planned phase, or a later one if the planned one went by between two looks.
            due = target is not None and now is not None and PHASES.index(now) >= target
            if due and linger > 0 and now == plan.kill_phase:
                linger -= 1
            elif due and now is not None:
                _signal(process, plan.kill_signal or "SIGKILL")
                outcome.killed_in = now
                signalled = time.monotonic()
                _wait(process, EXIT_AFTER_SIGNAL, outcome)
                outcome.exit_seconds_after_signal = round(time.monotonic() - signalled, 2)
                break
            if time.monotonic() - started > RUN_LIMIT:
                outcome.hung = True
                _signal(process, "SIGKILL")
                break
            time.sleep(POLL)
        _wait(process, EXIT_AFTER_SIGNAL, outcome)
    finally:
        if process.poll() is None:
            _signal(process, "SIGKILL")
            process.wait()
    outcome.seconds = time.monotonic() - started
    outcome.exit_code = process.returncode
    text = output.finish()
    outcome.output_tail = text[-6000:]
    outcome.left_at_exit = engine_resources(client, plan.prefix).count
    if not outcome.killed and not outcome.hung:
        outcome.gone_seconds = _until_gone(client, plan.prefix)
    outcome.kill_missed = target is not None and not outcome.killed and not outcome.hung
    return outcome


def _signal(process: subprocess.Popen[bytes], name: str) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, getattr(signal, name))


def _wait(process: subprocess.Popen[bytes], timeout: float, outcome: Outcome) -> None:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        outcome.hung = True
        _signal(process, "SIGKILL")
        process.wait()


def _until_gone(client: Any, prefix: str) -> float | None:
    """Seconds until the engine holds nothing of these projects; None if not within GONE_AFTER_EXIT."""
    started = time.monotonic()
    while time.monotonic() - started < GONE_AFTER_EXIT:
        if engine_resources(client, prefix, volumes=True).count == 0:
            return round(time.monotonic() - started, 2)
        time.sleep(POLL * 4)
    return None

"""A container's healthcheck, run by the harness where the engine never runs it.

Docker runs a container's healthcheck itself. Podman 4 schedules it with
systemd timers; where there is no systemd (a CI container, this sandbox) it
never runs: the health stays "starting" with no log entry, for ever. When a
container's health is still "starting" with an empty log one interval (plus
`GRACE`) after the harness first saw it running, the harness runs the
healthcheck's command itself (`exec`, CMD or CMD-SHELL form) and reads its
exit code: 0 is healthy; anything else leaves the container "starting" until
the deadline, as the engine's own retries would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

NANOSECONDS = 1_000_000_000
DEFAULT_INTERVAL = 30.0  # seconds: Docker's and Podman's default healthcheck interval
DEFAULT_TIMEOUT = 30.0  # seconds: their default healthcheck timeout
# How late an engine's first run of the healthcheck may be before the harness runs it itself.
GRACE = 1.0
# The harness's own runs, at most one per this many seconds per container.
SPACING = 0.5


def healthcheck_command(healthcheck: Mapping[str, Any] | None) -> list[str] | None:
    """The command a healthcheck runs (CMD or CMD-SHELL), or None without one (absent, NONE, inherited)."""
    test = list((healthcheck or {}).get("Test") or [])
    if len(test) < 2:
        return None
    kind, rest = str(test[0]).upper(), [str(word) for word in test[1:]]
    if kind == "CMD":
        return rest
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    return None


def _seconds(healthcheck: Mapping[str, Any], key: str, default: float) -> float:
    value = healthcheck.get(key) or 0
    return value / NANOSECONDS if isinstance(value, int) and value > 0 else default


@dataclass
class _Watch:
    first_seen: float
    last_run: float = float("-inf")
    health: str = "starting"
    note: str = ""


def run_with_timeout(container: Any, command: list[str], timeout: float) -> tuple[int | None, str]:
    """`exec` the command in the container; (exit code, output), or (None, why) past `timeout`."""
    outcome: list[tuple[int | None, str]] = []

    def run() -> None:
        try:
            exit_code, output = container.exec_run(command)
            text = output.decode(errors="replace") if isinstance(output, bytes) else ""
            outcome.append((exit_code, text))
        except Exception as error:  # noqa: BLE001 - reported as the check's outcome
            outcome.append((None, f"exec failed: {type(error).__name__}: {error}"))

    # A daemon thread: a check that hangs must not hold the probe (or the interpreter) past its timeout.
    thread = threading.Thread(target=run, name="healthcheck exec", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else (None, f"timed out after {timeout:g} s")


class SelfRunHealthchecks:
    """Per container: whether the engine runs its healthcheck, and if not, the harness's own result."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        run: Callable[[Any, list[str], float], tuple[int | None, str]] = run_with_timeout,
    ) -> None:
        self._clock = clock
        self._run = run
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()

    def health(self, container: Any, state: Mapping[str, Any]) -> tuple[str, str]:
        """(health, note) for a running container whose engine health is "starting"."""
        healthcheck = container.attrs.get("Config", {}).get("Healthcheck") or {}
        command = healthcheck_command(healthcheck)
        if command is None or (state.get("Health") or {}).get("Log"):
            return "starting", ""  # the engine runs it: its log has entries
        now = self._clock()
        with self._lock:
            watch = self._watches.setdefault(container.id, _Watch(first_seen=now))
            if now - watch.first_seen < _seconds(healthcheck, "Interval", DEFAULT_INTERVAL) + GRACE:
                return "starting", ""
            if now - watch.last_run < SPACING:
                return watch.health, watch.note
            watch.last_run = now
        exit_code, output = self._run(container, command, _seconds(healthcheck, "Timeout", DEFAULT_TIMEOUT))
        with self._lock:
            watch.health = "healthy" if exit_code == 0 else "starting"
            watch.note = f"healthcheck run by the harness (the engine never ran it): exit {exit_code}" + (
                f", {output.strip()[:200]!r}" if exit_code != 0 and output.strip() else ""
            )
            return watch.health, watch.note

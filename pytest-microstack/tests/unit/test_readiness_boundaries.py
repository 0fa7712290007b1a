"""pytest_microstack._core.readiness at its exact boundaries: a clock that stands still.

With real time, `now` never equals the deadline or the next state check to the
nanosecond, so `>=` and `>` look alike. A probe polled under a clock that reads the
same instant every time meets both boundaries exactly. The clock also bounds the
test by the code's own logic, not by the machine: a probe that would poll forever
reads it too often and fails at once, never hangs.
"""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest
from pytest_microstack._core import readiness
from pytest_microstack._core.readiness import ContainerState, Probe

# time.monotonic's reference point is undefined (Python's docs): any instant is one it may read,
# a small one included.
NOW = 0.5
# Reads of the standing clock a probe may make: a handful when it stops where it
# should; a probe that loops instead reaches this within a second.
MOST_READS = 50


class StandingClock:
    """time.monotonic for readiness: always NOW, and an error once read MOST_READS times."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        if self.reads > MOST_READS:
            raise AssertionError(f"the clock was read {self.reads} times: the probe never stopped")
        return NOW


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> StandingClock:
    """readiness's clock only (its `time` module reference), standing at NOW."""
    standing = StandingClock()
    monkeypatch.setattr(readiness, "time", SimpleNamespace(monotonic=standing))
    return standing


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_probe_gives_up_at_its_deadline_itself(clock: StandingClock) -> None:
    created = ContainerState("created")
    probe = Probe("worker", lambda: "unused", lambda: created, check="running")

    result = readiness._poll_one(probe, deadline=NOW, abort=threading.Event())

    assert (result.healthy, result.last_seen, result.state) == (False, "container created", created)
    assert result.elapsed == 0.0


def test_after_a_failed_attempt_the_engine_is_asked_at_that_instant(clock: StandingClock) -> None:
    """After a test (service first), one failed attempt makes the next look go to the engine."""
    exited = ContainerState("exited", exit_code=137)
    target = f"127.0.0.1:{closed_port()}"
    probe = Probe("db", lambda: target, lambda: exited, fail_on_unhealthy=False, check="tcp")
    abort = threading.Event()

    result = readiness._poll_one(probe, deadline=NOW + 60, abort=abort)

    assert (result.healthy, result.state) == (False, exited)
    assert result.last_seen.startswith("ConnectionRefusedError"), result.last_seen
    assert abort.is_set(), "a lost container stops the other probes"


def test_a_health_found_by_the_harness_says_how_in_the_last_answer() -> None:
    """Where the engine runs no healthcheck (Podman without systemd), the report says who ran it."""
    found = ContainerState("running", health="starting", health_note="run by the harness")
    probe = Probe("worker", lambda: "unused", lambda: found, check="docker")

    ready, last_seen = readiness._state_ready(probe, found)

    assert (ready, last_seen) == (False, "container running, docker health starting (run by the harness)")
    assert readiness._state_ready(probe, ContainerState("running", health="healthy")) == (
        True,
        "container running, docker health healthy",
    )

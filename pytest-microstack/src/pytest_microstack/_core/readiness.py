"""Wait for services to be ready, all at once, under one deadline.

Each service is polled on its own thread at a fine interval, with its own kind
of check: an HTTP health endpoint, a TCP connect, the container's Docker
healthcheck, or just a running container. The container's state is checked
between polls, so a service that exits or turns unhealthy fails start-up at
once instead of at the deadline.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

POLL_INTERVAL = 0.02
STATE_CHECK_INTERVAL = 0.1
REQUEST_TIMEOUT = (0.5, 1.0)  # connect, read: a healthy /health answers in milliseconds
# After a TCP connect, how long to wait for the peer to hang up. Docker's userland
# proxy accepts every connection on a published port and closes it at once when
# nothing listens behind it; a real server keeps it open (or greets us).
TCP_SETTLE = 0.05


@dataclass(frozen=True)
class ContainerState:
    """The part of a container's inspect data that start-up cares about."""

    status: str
    exit_code: int | None = None
    health: str | None = None
    # How the health was found, when not by the engine (see _core.healthcheck).
    health_note: str = ""

    @property
    def has_exited(self) -> bool:
        """Gone for good; "starting" (no container yet while `up` runs) is not."""
        return self.status in {"exited", "dead", "removing", "missing"}


@dataclass
class Probe:
    """How to reach one service and how to ask the engine about its container."""

    service: str
    # The health URL (check "http") or "host:port" (check "tcp"); raises
    # LookupError while the container publishes no port yet.
    target: Callable[[], str]
    state: Callable[[], ContainerState]
    # At start-up, Docker's "unhealthy" is final. After a fault it is stale
    # (the probe failed while the service was frozen), so only an exit counts.
    fail_on_unhealthy: bool = True
    check: str = "http"

    def is_lost(self, state: ContainerState) -> bool:
        return state.has_exited or (self.fail_on_unhealthy and state.health == "unhealthy")


@dataclass
class ProbeResult:
    """How one service's wait for readiness ended: healthy or not, what was seen last, how long it took."""

    service: str
    healthy: bool
    url: str
    last_seen: str
    state: ContainerState | None = None
    elapsed: float = 0.0


def _tcp_ready(target: str) -> tuple[bool, str]:
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT[0]) as connection:
            connection.settimeout(TCP_SETTLE)
            try:
                if connection.recv(1, socket.MSG_PEEK) == b"":
                    return False, "connection closed at once (nothing listening behind the published port)"
            except TimeoutError:
                pass  # open and quiet: a server waiting for its client to speak
            return True, "connected"
    except OSError as error:
        return False, f"{type(error).__name__}: {error}"


def _state_ready(probe: Probe, state: ContainerState) -> tuple[bool, str]:
    if probe.check == "running":
        return state.status == "running", f"container {state.status}"
    if state.status == "running" and not state.health:
        return False, "the container has no Docker healthcheck (add `healthcheck:` to the service)"
    seen = f"container {state.status}, docker health {state.health}"
    return state.health == "healthy", f"{seen} ({state.health_note})" if state.health_note else seen


def _poll_one(probe: Probe, deadline: float, abort: threading.Event) -> ProbeResult:
    start = time.monotonic()
    session = requests.Session()
    # The probes go to ports the engine publishes (127.0.0.1 or the engine's
    # host): never through a proxy from HTTP_PROXY and the like, which a CI
    # runner may set without a NO_PROXY for them.
    session.trust_env = False
    url, last_seen = "(not yet known)", "no attempt yet"
    by_state = probe.check in {"docker", "running"}
    # At start-up the engine is asked first (Docker's "unhealthy" is final there).
    # After a test or a fault, an HTTP or TCP check asks the service first and the
    # engine only once an attempt has failed: a healthy service (the check after
    # every test) costs one request instead of that and two engine calls, and a
    # lost container is still found one poll after its first failed attempt.
    service_first = not by_state and not probe.fail_on_unhealthy
    next_state_check = math.inf if service_first else 0.0
    attempted = False
    try:
        while not abort.is_set():
            now = time.monotonic()
            if now >= next_state_check:
                state = probe.state()
                if probe.is_lost(state):
                    abort.set()
                    return ProbeResult(probe.service, False, url, last_seen, state, now - start)
                next_state_check = now + STATE_CHECK_INTERVAL
                if by_state:
                    url = f"container of {probe.service}"
                    ready, last_seen = _state_ready(probe, state)
                    if ready:
                        return ProbeResult(probe.service, True, url, last_seen, state, now - start)
            if now >= deadline:
                return ProbeResult(probe.service, False, url, last_seen, probe.state(), now - start)
            if by_state:
                abort.wait(STATE_CHECK_INTERVAL)
                continue
            if attempted and next_state_check == math.inf:
                next_state_check = now  # an attempt failed: from now on, ask the engine too
                continue
            attempted = True
            try:
                url = probe.target()
            except LookupError as error:
                # No published port yet: ask the engine again at the slower state
                # rate, to leave it free for starting the containers.
                last_seen = f"{type(error).__name__}: {error}"
                abort.wait(STATE_CHECK_INTERVAL)
                continue
            if probe.check == "tcp":
                ready, last_seen = _tcp_ready(url)
                if ready:
                    return ProbeResult(probe.service, True, url, last_seen, None, time.monotonic() - start)
                abort.wait(POLL_INTERVAL)
                continue
            try:
                # Full timeouts even near the deadline (overshooting it by at most
                # REQUEST_TIMEOUT): a request cut short would replace the last real
                # answer, the useful part of a failure report, with a timeout.
                response = session.get(url, timeout=REQUEST_TIMEOUT)
                if response.status_code == 200:
                    return ProbeResult(probe.service, True, url, "200", None, time.monotonic() - start)
                last_seen = f"HTTP {response.status_code}: {response.text[:200]!r}"
            except requests.RequestException as error:
                last_seen = f"{type(error).__name__}: {error}"
            abort.wait(POLL_INTERVAL)
        return ProbeResult(probe.service, False, url, last_seen + " (stopped: another service failed)")
    finally:
        session.close()


def wait_until_healthy(
    probes: Sequence[Probe], timeout: float, abort: threading.Event | None = None
) -> list[ProbeResult]:
    """Poll every probe concurrently; returns one result per probe, healthy or not.

    Setting `abort` (also set when one service is lost) stops every probe early.
    The probes run on daemon threads: on Ctrl-C nothing waits for a probe's
    request in flight, neither this function nor the interpreter at exit.
    """
    deadline = time.monotonic() + timeout
    abort = abort or threading.Event()
    outcomes: list[ProbeResult | BaseException | None] = [None] * len(probes)

    def run(index: int, probe: Probe) -> None:
        try:
            outcomes[index] = _poll_one(probe, deadline, abort)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread below
            abort.set()
            outcomes[index] = error

    threads = [
        threading.Thread(target=run, args=(index, probe), name=f"probe {probe.service}", daemon=True)
        for index, probe in enumerate(probes)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:
        abort.set()  # Ctrl-C or SIGTERM: stop the probes now, not at the deadline
        raise
    results = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None, "every probe thread records an outcome"
        results.append(outcome)
    return results

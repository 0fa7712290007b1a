"""pytest_microstack._core.readiness: concurrent health polling under one deadline, failing fast."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from pytest_microstack._core import readiness
from pytest_microstack._core.readiness import ContainerState, Probe, ProbeResult, wait_until_healthy
from werkzeug.wrappers import Request, Response

RUNNING = ContainerState("running")


class Health:
    """A /health endpoint that answers 503 `failures` times, then 200."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.hits = 0
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.hits += 1
            ready = self.hits > self.failures
        return Response("ok", 200) if ready else Response("starting", 503)


def serve_handler(httpserver: HTTPServer, path: str, handler: Callable[[Request], Response]) -> str:
    httpserver.expect_request(path).respond_with_handler(handler)
    return httpserver.url_for(path)


def serve(httpserver: HTTPServer, path: str, health: Health) -> str:
    httpserver.expect_request(path).respond_with_handler(health)
    return httpserver.url_for(path)


def constant(state: ContainerState) -> Callable[[], ContainerState]:
    return lambda: state


def after_hits(health: Health, hits: int, then: ContainerState) -> Callable[[], ContainerState]:
    """A container that is running until the service has answered `hits` requests."""
    return lambda: then if health.hits >= hits else RUNNING


def timed(probes: list[Probe], timeout: float) -> tuple[list[ProbeResult], float]:
    started = time.monotonic()
    results = wait_until_healthy(probes, timeout)
    return results, time.monotonic() - started


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def unpublished() -> str:
    raise LookupError("api publishes no host port for 5000")


def test_healthy_once_health_answers_200_after_some_503s(httpserver: HTTPServer) -> None:
    health = Health(failures=3)
    url = serve(httpserver, "/health", health)

    [result], elapsed = timed([Probe("api", lambda: url, constant(RUNNING))], timeout=10)

    assert result.healthy is True
    assert result.service == "api"
    assert result.url == url
    assert health.hits == 4
    assert elapsed < 2
    assert 0 < result.elapsed <= elapsed


def test_an_exited_container_fails_fast_with_its_state_and_exit_code(httpserver: HTTPServer) -> None:
    health = Health(failures=10**6)
    url = serve(httpserver, "/health", health)
    exited = ContainerState("exited", exit_code=3)

    [result], elapsed = timed([Probe("api", lambda: url, after_hits(health, 2, exited))], timeout=30)

    assert elapsed < 2, "an exit must be noticed at once, not at the deadline"
    assert result.healthy is False
    assert result.state == exited
    assert result.state is not None
    assert result.state.exit_code == 3
    assert result.url == url
    assert result.last_seen.startswith("HTTP 503")


@pytest.mark.parametrize(
    ("fail_on_unhealthy", "expect_healthy"),
    [
        pytest.param(True, False, id="at-start-up-unhealthy-is-final"),
        pytest.param(False, True, id="after-a-fault-unhealthy-is-stale"),
    ],
)
def test_docker_unhealthy_fails_fast_only_when_asked(
    httpserver: HTTPServer, fail_on_unhealthy: bool, expect_healthy: bool
) -> None:
    health = Health(failures=5)
    url = serve(httpserver, "/health", health)
    unhealthy = ContainerState("running", health="unhealthy")
    probe = Probe("api", lambda: url, constant(unhealthy), fail_on_unhealthy=fail_on_unhealthy)

    [result], elapsed = timed([probe], timeout=30)

    assert elapsed < 2
    assert result.healthy is expect_healthy
    if not expect_healthy:
        assert result.state == unhealthy
        assert health.hits == 0, "lost before the first request: the state is checked first"
        assert (result.url, result.last_seen) == ("(not yet known)", "no attempt yet")
        assert 0 < result.elapsed <= elapsed


# Deadline tests: a probe gives up at most DEADLINE_MARGIN after its deadline: the
# request in flight to a local server that answers at once, one POLL_INTERVAL, and
# thread wake-ups on a loaded 2-core machine (0.1 s measured idle, 0.4 s at load 9,
# under a mutation run at load 23). DEADLINE_MARGIN < DEADLINE, so a deadline
# taken twice (2 x DEADLINE) fails them. A test that needs one attempt at least uses
# DEADLINE too: a shorter one (0.3 s) can pass before a probe thread, started under
# load, makes any ("no attempt yet": a mutation run's clean tests failed so).
DEADLINE = 1.0
DEADLINE_MARGIN = 0.9


def test_after_a_test_a_healthy_service_is_asked_without_asking_the_engine(httpserver: HTTPServer) -> None:
    url = serve(httpserver, "/health", Health())
    asked: list[ContainerState] = []

    def state() -> ContainerState:
        asked.append(ContainerState("running"))
        return asked[-1]

    [result], _ = timed([Probe("api", lambda: url, state, fail_on_unhealthy=False)], timeout=30)

    assert result.healthy is True
    assert asked == [], "one request answered 200: no engine call was needed"


def test_after_a_test_an_exited_container_is_still_found_after_one_failed_attempt(
    httpserver: HTTPServer,
) -> None:
    health = Health(failures=10**6)
    url = serve(httpserver, "/health", health)
    exited = ContainerState("exited", exit_code=137)

    [result], elapsed = timed(
        [Probe("api", lambda: url, constant(exited), fail_on_unhealthy=False)], timeout=30
    )

    assert elapsed < 2, "an exit must be noticed at once, not at the deadline"
    assert (result.healthy, result.state, health.hits) == (False, exited, 1)


def test_the_deadline_is_respected_and_the_last_response_recorded(httpserver: HTTPServer) -> None:
    url = serve(httpserver, "/health", Health(failures=10**6))

    [result], elapsed = timed([Probe("api", lambda: url, constant(RUNNING))], timeout=DEADLINE)

    assert DEADLINE <= elapsed < DEADLINE + DEADLINE_MARGIN
    assert 0 < result.elapsed <= elapsed  # from the probe thread's start, a little after the deadline's
    assert result.healthy is False
    assert result.url == url
    assert result.last_seen == "HTTP 503: 'starting'"
    assert result.state == RUNNING


@pytest.mark.parametrize(
    ("health_url", "expected_prefix"),
    [
        pytest.param(lambda: f"http://127.0.0.1:{closed_port()}/health", "ConnectionError", id="refused"),
        pytest.param(unpublished, "LookupError", id="no-port-published"),
    ],
)
def test_errors_are_recorded_until_the_deadline(health_url: Callable[[], str], expected_prefix: str) -> None:
    [result], elapsed = timed([Probe("api", health_url, constant(RUNNING))], timeout=DEADLINE)

    assert elapsed < DEADLINE + DEADLINE_MARGIN
    assert result.healthy is False
    assert result.last_seen.startswith(expected_prefix), result.last_seen


def test_probes_run_concurrently(httpserver: HTTPServer) -> None:
    # Each service is ready only once the other has been asked: polled one at a time, the
    # first would wait for the second until the deadline. No clock: a loaded machine's
    # slowness can't pass for sequential polling (a 0.5 s bound failed under mutmut).
    asked = {"one": threading.Event(), "two": threading.Event()}

    def health(name: str, other: str) -> Callable[[Request], Response]:
        def answer(request: Request) -> Response:
            asked[name].set()
            return Response("ok", 200) if asked[other].is_set() else Response("starting", 503)

        return answer

    one = serve_handler(httpserver, "/one/health", health("one", "two"))
    two = serve_handler(httpserver, "/two/health", health("two", "one"))
    probes = [Probe("one", lambda: one, constant(RUNNING)), Probe("two", lambda: two, constant(RUNNING))]

    results = wait_until_healthy(probes, 10)

    assert [r.healthy for r in results] == [True, True], "the probes were not polled concurrently"


def test_results_come_back_in_probe_order(httpserver: HTTPServer) -> None:
    slow = serve(httpserver, "/slow/health", Health(failures=5))
    fast = serve(httpserver, "/fast/health", Health())
    probes = [Probe("slow", lambda: slow, constant(RUNNING)), Probe("fast", lambda: fast, constant(RUNNING))]

    results = wait_until_healthy(probes, timeout=10)

    assert [r.service for r in results] == ["slow", "fast"]
    assert all(r.healthy for r in results)


def test_one_lost_service_stops_the_others_at_once(httpserver: HTTPServer) -> None:
    never = serve(httpserver, "/never/health", Health(failures=10**6))
    crashing = Health(failures=10**6)
    crash_url = serve(httpserver, "/crash/health", crashing)
    probes = [
        Probe("waiting", lambda: never, constant(RUNNING)),
        Probe("crashing", lambda: crash_url, after_hits(crashing, 1, ContainerState("dead", 137))),
    ]

    (waiting, crashed), elapsed = timed(probes, timeout=30)

    assert elapsed < 2
    assert crashed.state == ContainerState("dead", 137)
    assert waiting.healthy is False
    assert waiting.last_seen.endswith("(stopped: another service failed)")


# --- tcp check -----------------------------------------------------------------------------------


def tcp(service: str, target: Callable[[], str]) -> Probe:
    return Probe(service, target, constant(RUNNING), check="tcp")


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A real server socket on 127.0.0.1: the kernel completes each connection and keeps it open."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


class ClosingServer:
    """Accepts every connection and closes it at once, as Docker's proxy does with nothing behind it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.accepted = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def __enter__(self) -> ClosingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.server.close()


def test_tcp_is_ready_once_the_port_accepts_and_keeps_the_connection(listening: socket.socket) -> None:
    target = f"127.0.0.1:{listening.getsockname()[1]}"

    [result], elapsed = timed([tcp("db", lambda: target)], timeout=10)

    assert result.healthy is True
    assert (result.url, result.last_seen) == (target, "connected")
    assert result.service == "db"
    assert result.state is None
    assert 0 < result.elapsed <= elapsed
    assert elapsed < 2


def test_tcp_is_ready_when_the_server_greets_first(listening: socket.socket) -> None:
    target = f"127.0.0.1:{listening.getsockname()[1]}"

    def greet() -> None:
        connection, _ = listening.accept()
        with connection, contextlib.suppress(ConnectionResetError):  # the greeting is left unread
            connection.sendall(b"220 smtp ready\r\n")
            connection.recv(1)  # until the probe hangs up

    greeter = threading.Thread(target=greet, daemon=True)
    greeter.start()
    [result] = wait_until_healthy([tcp("mail", lambda: target)], timeout=10)
    greeter.join(timeout=5)

    assert result.healthy is True


def test_tcp_is_not_ready_while_connections_are_closed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A generous settle time: a close that arrives late must not make this test pass by luck.
    monkeypatch.setattr(readiness, "TCP_SETTLE", 5.0)
    with ClosingServer() as server:
        [result], elapsed = timed([tcp("db", lambda: server.target)], timeout=DEADLINE)

    assert server.accepted >= 1, "the probe did connect"
    assert result.healthy is False
    assert result.last_seen.startswith("connection closed at once"), result.last_seen
    assert elapsed < DEADLINE + DEADLINE_MARGIN


def test_tcp_refused_is_not_ready_and_recorded() -> None:
    target = f"127.0.0.1:{closed_port()}"

    [result], elapsed = timed([tcp("db", lambda: target)], timeout=DEADLINE)

    assert result.healthy is False
    assert result.last_seen.startswith("ConnectionRefusedError"), result.last_seen
    assert DEADLINE <= elapsed < DEADLINE + DEADLINE_MARGIN


def test_tcp_waits_for_the_port_to_be_published(listening: socket.socket) -> None:
    published = threading.Event()
    target = f"127.0.0.1:{listening.getsockname()[1]}"

    def address() -> str:
        if not published.is_set():
            published.set()  # the next lookup finds it
            raise LookupError("db publishes no host port for port 5432")
        return target

    [result] = wait_until_healthy([tcp("db", address)], timeout=10)

    assert result.healthy is True


# --- docker and running checks -----------------------------------------------------------------


def states(*sequence: ContainerState) -> Callable[[], ContainerState]:
    """A container that goes through `sequence`, one state per look, then stays in the last."""
    remaining = list(sequence)

    def next_state() -> ContainerState:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return next_state


def no_target() -> str:
    raise AssertionError("a docker or running check must not look for a published port")


def by_state(check: str, state: Callable[[], ContainerState], fail_on_unhealthy: bool = True) -> Probe:
    return Probe("worker", no_target, state, fail_on_unhealthy, check)


def test_docker_check_is_ready_when_dockers_healthcheck_says_healthy() -> None:
    probe = by_state(
        "docker",
        states(
            ContainerState("starting"),
            ContainerState("running", health="starting"),
            ContainerState("running", health="healthy"),
        ),
    )

    [result], elapsed = timed([probe], timeout=10)

    assert result.healthy is True
    assert result.service == "worker"
    assert 0 < result.elapsed <= elapsed
    assert result.url == "container of worker"
    assert result.last_seen == "container running, docker health healthy"
    assert result.state == ContainerState("running", health="healthy")
    assert elapsed < 2


def test_docker_check_of_a_container_without_healthcheck_says_so_at_the_deadline() -> None:
    [result], elapsed = timed([by_state("docker", constant(RUNNING))], timeout=DEADLINE)

    assert result.healthy is False
    assert result.last_seen == "the container has no Docker healthcheck (add `healthcheck:` to the service)"
    assert DEADLINE <= elapsed < DEADLINE + DEADLINE_MARGIN


def test_docker_check_fails_fast_on_unhealthy() -> None:
    unhealthy = ContainerState("running", health="unhealthy")

    [result], elapsed = timed([by_state("docker", constant(unhealthy))], timeout=30)

    assert result.healthy is False
    assert result.state == unhealthy
    assert elapsed < 2


@pytest.mark.parametrize("check", ["docker", "running"])
def test_a_state_check_fails_fast_when_the_container_exits(check: str) -> None:
    exited = ContainerState("exited", exit_code=2)

    [result], elapsed = timed([by_state(check, states(ContainerState("created"), exited))], timeout=30)

    assert result.healthy is False
    assert result.state == exited
    assert elapsed < 2


def test_running_check_is_ready_once_the_container_runs_whatever_its_health() -> None:
    probe = by_state(
        "running",
        states(ContainerState("created"), ContainerState("running", health="starting")),
    )

    [result] = wait_until_healthy([probe], timeout=10)

    assert result.healthy is True
    assert result.last_seen == "container running"


def test_running_check_is_not_ready_while_the_container_is_only_created() -> None:
    [result], elapsed = timed([by_state("running", constant(ContainerState("created")))], timeout=0.3)

    assert result.healthy is False
    assert result.last_seen == "container created"
    assert 0.3 <= elapsed < 2


def test_no_probes_is_a_no_op() -> None:
    assert wait_until_healthy([], timeout=1) == []


@pytest.mark.parametrize(
    ("status", "exited"),
    [
        *[(status, True) for status in ("exited", "dead", "removing", "missing")],
        *[(status, False) for status in ("running", "created", "restarting", "paused", "starting")],
    ],
    ids=str,
)
def test_container_state_has_exited(status: str, exited: bool) -> None:
    assert ContainerState(status).has_exited is exited


@pytest.mark.parametrize(
    ("state", "fail_on_unhealthy", "lost"),
    [
        pytest.param(ContainerState("running", health="healthy"), True, False, id="healthy"),
        pytest.param(ContainerState("running", health="starting"), True, False, id="starting"),
        pytest.param(ContainerState("running", health="unhealthy"), True, True, id="unhealthy-strict"),
        pytest.param(ContainerState("running", health="unhealthy"), False, False, id="unhealthy-lenient"),
        pytest.param(ContainerState("exited", 1), False, True, id="exited-lenient"),
        pytest.param(ContainerState("running"), True, False, id="no-healthcheck"),
    ],
)
def test_probe_is_lost(state: ContainerState, fail_on_unhealthy: bool, lost: bool) -> None:
    probe = Probe("api", lambda: "http://unused", constant(state), fail_on_unhealthy)
    assert probe.is_lost(state) is lost


class Interrupted(Exception):
    """Stands in for the KeyboardInterrupt that Ctrl-C or SIGTERM raises in the main thread."""


def test_an_interrupt_while_waiting_stops_the_probes_at_once(httpserver: HTTPServer) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed from the main thread")
    url = serve(httpserver, "/health", Health(failures=10**6))
    calls = 0

    def interrupting_url() -> str:
        nonlocal calls
        calls += 1
        if calls == 3:  # by then the main thread is waiting for the results
            os.kill(os.getpid(), signal.SIGUSR1)
        return url

    def handler(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        started = time.monotonic()
        with pytest.raises(Interrupted):
            wait_until_healthy([Probe("api", interrupting_url, constant(RUNNING))], timeout=2)
        elapsed = time.monotonic() - started
    finally:
        signal.signal(signal.SIGUSR1, previous)

    assert elapsed < 1, f"the interrupt took {elapsed:.1f} s to get through"


def test_probes_ignore_the_environment_proxy(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18, 5: on a CI runner with HTTP_PROXY and no NO_PROXY, probes to 127.0.0.1 went to the proxy."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = serve(httpserver, "/health", Health())

    [result], _ = timed([Probe("api", lambda: url, constant(RUNNING))], timeout=10)

    assert result.healthy is True, result.last_seen
    assert httpserver.log, "answered by the service itself, not by a proxy"


def test_a_service_that_never_answers_fails_at_the_deadline_plus_one_read_timeout(
    httpserver: HTTPServer,
) -> None:
    """A request in flight is never cut short, but never waits longer than REQUEST_TIMEOUT either."""
    release = threading.Event()

    def hang(request: Request) -> Response:
        release.wait(30)
        return Response("late", 200)

    url = serve_handler(httpserver, "/health", hang)
    try:
        [result], elapsed = timed([Probe("api", lambda: url, constant(RUNNING))], timeout=DEADLINE)
    finally:
        release.set()

    assert result.healthy is False
    assert result.last_seen.startswith("ConnectionError") or "timed out" in result.last_seen, result.last_seen
    assert elapsed < DEADLINE + readiness.REQUEST_TIMEOUT[1] + DEADLINE_MARGIN


def test_the_container_state_is_asked_at_the_slower_state_rate(httpserver: HTTPServer) -> None:
    """HTTP polls every POLL_INTERVAL; the engine is asked only every STATE_CHECK_INTERVAL."""
    url = serve(httpserver, "/health", Health(failures=10**6))
    asked: list[float] = []

    def state() -> ContainerState:
        asked.append(time.monotonic())
        return RUNNING

    [_], elapsed = timed([Probe("api", lambda: url, state)], timeout=DEADLINE)

    # One ask per interval, the first at once and one more for the result: never one per request.
    assert len(asked) <= elapsed / readiness.STATE_CHECK_INTERVAL + 2, len(asked)


def test_an_http_ready_result_says_200_and_whose_it_is(httpserver: HTTPServer) -> None:
    url = serve(httpserver, "/health", Health())

    [result], elapsed = timed([Probe("api", lambda: url, constant(RUNNING))], timeout=10)

    assert (result.service, result.healthy, result.url, result.last_seen) == ("api", True, url, "200")
    assert result.state is None
    assert 0 < result.elapsed <= elapsed


@pytest.mark.parametrize(("length", "shown"), [(200, 200), (201, 200)], ids=["exactly-200", "one-past"])
def test_the_last_answer_is_kept_to_200_characters(httpserver: HTTPServer, length: int, shown: int) -> None:
    httpserver.expect_request("/health").respond_with_data("x" * length, status=503)
    url = httpserver.url_for("/health")

    [result], _ = timed([Probe("api", lambda: url, constant(RUNNING))], timeout=DEADLINE)

    assert result.last_seen == f"HTTP 503: {'x' * shown!r}"


def test_a_probe_stopped_by_another_services_failure_still_names_its_service_and_url(
    httpserver: HTTPServer,
) -> None:
    url = serve(httpserver, "/health", Health(failures=10**6))
    exited = ContainerState("exited", exit_code=1)
    probes = [Probe("web", lambda: url, constant(RUNNING)), by_state("running", constant(exited))]

    waiting, _ = wait_until_healthy(probes, timeout=30)

    assert (waiting.service, waiting.url) == ("web", url)
    assert waiting.last_seen.endswith("(stopped: another service failed)")


def test_an_error_inside_a_probe_reaches_the_caller_as_itself() -> None:
    def broken_state() -> ContainerState:
        raise ConnectionRefusedError("engine socket closed")

    with pytest.raises(ConnectionRefusedError, match="engine socket closed"):
        wait_until_healthy([Probe("api", no_target, broken_state)], timeout=10)


def test_probes_run_on_named_daemon_threads(httpserver: HTTPServer) -> None:
    """Named for thread dumps of a hung start-up; daemons, so Ctrl-C never waits for a request."""
    seen: list[tuple[str, bool]] = []

    def state() -> ContainerState:
        thread = threading.current_thread()
        seen.append((thread.name, thread.daemon))
        return ContainerState("running", health="healthy")

    wait_until_healthy([by_state("docker", state)], timeout=10)

    assert seen
    assert set(seen) == {("probe worker", True)}

"""pytest_microstack._core.stack: a compose project addressed through a (fake) engine."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, cast

import docker.errors
import pytest
from pytest_httpserver import HTTPServer
from pytest_microstack._core import stack as stack_module
from pytest_microstack._core.readiness import ContainerState
from pytest_microstack._core.stack import LOG_TAIL_LINES, ComposeStack
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._errors import ComposeCommandError, ServiceUnhealthyError, StackStartError
from pytest_microstack._ownership import Owner, owner_labels
from pytest_microstack._settings import ServiceSpec
from werkzeug.wrappers import Request, Response

from unit.fakes import FakeCompose, FakeEngine

PROJECT = "microstack-it-cafe-main"
SERVICES = (ServiceSpec("api", 5000), ServiceSpec("worker", 5001, "/ready"))


def make_stack(
    engine: FakeEngine, *, compose: FakeCompose | None = None, host: str = "127.0.0.1"
) -> ComposeStack:
    compose = compose or FakeCompose(project_name=PROJECT)
    return ComposeStack(cast(Any, compose), cast(Any, engine), host, SERVICES, stack_timeout=10)


# What the override puts on every resource of a stack this process starts.
OWNED = owner_labels(Owner.current(), keep=False, config_hash="cafe")


def add(engine: FakeEngine, service: str, **kwargs: Any) -> str:
    kwargs.setdefault("labels", OWNED)
    return engine.add_container(f"{PROJECT}-{service}-1", project=PROJECT, service=service, **kwargs)


# --- url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "docker.internal", "10.1.2.3"])
def test_url_is_the_published_host_port_on_the_engine_host(engine: FakeEngine, host: str) -> None:
    add(engine, "api", ports={5000: 32771})
    add(engine, "worker", ports={5001: 32772})
    stack = make_stack(engine, host=host)

    assert stack.url("api") == f"http://{host}:32771"
    assert stack.url("worker") == f"http://{host}:32772"


def test_url_is_looked_up_in_this_project_only(engine: FakeEngine) -> None:
    engine.add_container("other-api-1", project="other-project", service="api", ports={5000: 40000})
    add(engine, "api", ports={5000: 32771})

    assert make_stack(engine).url("api") == "http://127.0.0.1:32771"


def test_url_is_cached_until_forgotten(engine: FakeEngine) -> None:
    ident = add(engine, "api", ports={5000: 32771})
    stack = make_stack(engine)
    assert stack.url("api") == "http://127.0.0.1:32771"

    # The container is restarted and gets another host port.
    engine.container_attrs[ident]["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"] = "32999"
    assert stack.url("api") == "http://127.0.0.1:32771"
    stack.forget_urls()
    assert stack.url("api") == "http://127.0.0.1:32999"


@pytest.mark.parametrize(
    "ports",
    [
        pytest.param(None, id="no-container"),
        pytest.param({}, id="nothing-published"),
        pytest.param({"5000/tcp": None}, id="exposed-not-published"),
        pytest.param({"5000/tcp": []}, id="empty-bindings"),
        pytest.param({"6000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1"}]}, id="another-port"),
        pytest.param("stopped", id="stopped-container-ports-null"),
    ],
)
def test_url_raises_lookup_error_when_the_port_is_not_published(engine: FakeEngine, ports: Any) -> None:
    if ports is not None:
        ident = add(engine, "api", status="exited" if ports == "stopped" else "running")
        engine.container_attrs[ident]["NetworkSettings"]["Ports"] = None if ports == "stopped" else ports
    stack = make_stack(engine)

    with pytest.raises(LookupError, match=r"api publishes no host port for port 5000"):
        stack.url("api")
    with pytest.raises(LookupError):
        stack.url("api")  # a failed lookup is not cached


def test_address_and_url_of_another_container_port(engine: FakeEngine) -> None:
    add(engine, "api", ports={5000: 32771, 9090: 32790})
    stack = make_stack(engine)

    assert stack.address("api") == ("127.0.0.1", 32771), "the declared port by default"
    assert stack.address("api", 9090) == ("127.0.0.1", 32790)
    assert stack.url("api", 9090) == "http://127.0.0.1:32790"
    with pytest.raises(LookupError, match="api publishes no host port for port 7000"):
        stack.address("api", 7000)


def test_a_service_without_a_declared_port_is_reached_on_its_published_one(engine: FakeEngine) -> None:
    add(engine, "admin", ports={8080: 32800})  # not declared at all
    add(engine, "cron")  # publishes nothing
    stack = ComposeStack(
        cast(Any, FakeCompose(project_name=PROJECT)),
        cast(Any, engine),
        "127.0.0.1",
        (*SERVICES, ServiceSpec("cron", check="running")),
        stack_timeout=10,
    )

    assert stack.url("admin") == "http://127.0.0.1:32800"
    with pytest.raises(LookupError, match="cron publishes no host port for any port"):
        stack.address("cron")


@pytest.mark.parametrize(
    ("spec", "target"),
    [
        pytest.param(ServiceSpec("db", 5432, check="tcp"), "127.0.0.1:32999", id="tcp-host-and-port"),
        pytest.param(ServiceSpec("db", 5432, "/ready"), "http://127.0.0.1:32999/ready", id="http-url"),
    ],
)
def test_a_probe_targets_what_its_check_needs(engine: FakeEngine, spec: ServiceSpec, target: str) -> None:
    add(engine, "db", ports={5432: 32999})
    stack = ComposeStack(
        cast(Any, FakeCompose(project_name=PROJECT)), cast(Any, engine), "127.0.0.1", (spec,), 10
    )

    probe = stack._probe("db")

    assert (probe.target(), probe.check) == (target, spec.check)


# --- state, environment, logs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param(None, ContainerState("missing"), id="missing"),
        pytest.param({"status": "running"}, ContainerState("running"), id="running-no-healthcheck"),
        pytest.param(
            {"status": "running", "health": "starting"},
            ContainerState("running", None, "starting"),
            id="running-starting",
        ),
        pytest.param(
            {"status": "exited", "exit_code": 3, "health": "unhealthy"},
            ContainerState("exited", 3, "unhealthy"),
            id="exited-with-code",
        ),
        pytest.param({"status": "dead", "exit_code": 137}, ContainerState("dead", 137), id="dead"),
        pytest.param({"status": "paused", "exit_code": 0}, ContainerState("paused"), id="paused-no-code"),
    ],
)
def test_state(engine: FakeEngine, container: dict[str, Any] | None, expected: ContainerState) -> None:
    if container is not None:
        add(engine, "api", **container)

    assert make_stack(engine).state("api") == expected


def test_a_container_removed_while_being_listed_counts_as_missing(either_engine: FakeEngine) -> None:
    ident = add(either_engine, "api")
    either_engine.removed_while_listing.add(ident)

    stack = make_stack(either_engine)

    assert stack.container("api") is None
    assert stack.state("api") == ContainerState("missing")


def test_a_container_without_healthcheck_has_no_health_on_either_engine(either_engine: FakeEngine) -> None:
    add(either_engine, "api")  # Docker: no State.Health; Podman: State.Health.Status ""

    assert make_stack(either_engine).state("api") == ContainerState("running", None, None)


def test_state_includes_stopped_containers(engine: FakeEngine) -> None:
    add(engine, "api", status="exited", exit_code=1)
    make_stack(engine).state("api")
    assert engine.list_calls[-1][1]["all"] is True


def test_environment_parses_the_containers_env(engine: FakeEngine) -> None:
    add(engine, "api", env=["A=1", "URL=http://x/?q=a=b", "EMPTY=", "FLAG"])

    assert make_stack(engine).environment("api") == {
        "A": "1",
        "URL": "http://x/?q=a=b",
        "EMPTY": "",
        "FLAG": "",
    }


def test_environment_of_a_missing_container_raises_lookup_error(engine: FakeEngine) -> None:
    with pytest.raises(LookupError, match=f"api has no container in project {PROJECT}"):
        make_stack(engine).environment("api")


def test_logs_pass_since_and_tail_and_decode(engine: FakeEngine) -> None:
    ident = add(engine, "api", logs="".join(f"line {i} \N{SNOWMAN}\n" for i in range(5)).encode())

    text = make_stack(engine).logs("api", since=1700000000.5, tail=2)

    assert text == "line 3 \N{SNOWMAN}\nline 4 \N{SNOWMAN}\n"
    [call] = engine.calls_to("logs")
    assert call.ident == ident
    assert call.kwargs == {"timestamps": False, "since": 1700000000.5, "tail": 2}


def test_a_log_tail_on_podman_joins_a_line_written_in_two_parts() -> None:
    """Podman's own tail returned "\\n" for it: a crash's diagnosis said "(no output)"."""
    engine = FakeEngine("podman")
    ident = add(engine, "api")
    engine.container_log_frames[ident] = [b"booting\n", b"refusing to start: CRASH_AT_BOOT=x", b"\n"]

    assert make_stack(engine).logs("api", tail=1) == "refusing to start: CRASH_AT_BOOT=x\n"
    [call] = engine.calls_to("logs")
    assert "tail" not in call.kwargs


def test_logs_without_a_container_or_with_an_engine_error_do_not_raise(engine: FakeEngine) -> None:
    stack = make_stack(engine)
    assert stack.logs("api") == "(no container)"

    ident = add(engine, "api")
    engine.fail_on[("logs", ident)] = docker.errors.APIError(
        "configured logging driver does not support reading"
    )
    assert stack.logs("api").startswith("(logs unavailable: ")


# --- start, stop, health -----------------------------------------------------------------------


def serve_health(httpserver: HTTPServer, engine: FakeEngine) -> None:
    """Both services answer on the test server; their containers publish its port."""
    add(engine, "api", ports={5000: httpserver.port})
    add(engine, "worker", ports={5001: httpserver.port})
    httpserver.expect_request("/health").respond_with_data("ok")
    httpserver.expect_request("/ready").respond_with_data("ok")


def test_start_brings_the_project_up_and_waits_for_every_health_endpoint(
    engine: FakeEngine, httpserver: HTTPServer
) -> None:
    compose = FakeCompose(project_name=PROJECT, on_start=lambda: serve_health(httpserver, engine))
    stack = make_stack(engine, compose=compose)

    seconds = stack.start()

    assert compose.events == ["start"]
    assert 0 < seconds < 5
    paths = sorted(request.path for request, _ in httpserver.log)
    assert "/health" in paths
    assert "/ready" in paths, "each service's own health path is used"


def test_start_failure_names_service_url_deadline_state_exit_code_and_log_tail(
    engine: FakeEngine, httpserver: HTTPServer
) -> None:
    logs = "".join(f"boot line {i}\n" for i in range(100)) + "KeyError: 'SECRET_KEY'\n"
    ident = add(engine, "api", ports={5000: httpserver.port}, logs=logs.encode())
    add(engine, "worker", ports={5001: httpserver.port})
    hits = 0

    def crashing(request: Request) -> Response:
        nonlocal hits
        hits += 1
        if hits >= 2:  # the service dies while starting
            engine.state(ident).update(Status="exited", ExitCode=3)
        return Response("booting", 503)

    httpserver.expect_request("/health").respond_with_handler(crashing)
    httpserver.expect_request("/ready").respond_with_data("ok")
    stack = make_stack(engine)

    started = time.monotonic()
    with pytest.raises(StackStartError) as caught:
        stack.start()

    assert time.monotonic() - started < 5, "an exited service fails start-up before the deadline"
    message = str(caught.value)
    assert PROJECT in message
    assert "failed to start" in message
    assert "health deadline 10.0 s" in message
    assert f"service 'api' at http://127.0.0.1:{httpserver.port}/health" in message
    assert "container: exited, exit code 3" in message
    assert "HTTP 503: 'booting'" in message
    assert "| KeyError: 'SECRET_KEY'" in message
    assert f"| boot line {100 - LOG_TAIL_LINES + 1}" in message
    assert f"| boot line {100 - LOG_TAIL_LINES}\n" not in message, "only the log tail is shown"
    assert [f.service for f in caught.value.failures] == ["api"]
    assert caught.value.failures[0].exit_code == 3


def test_health_polling_overlaps_compose_up(engine: FakeEngine, httpserver: HTTPServer) -> None:
    polled_during_up = threading.Event()

    def health(request: Request) -> Response:
        polled_during_up.set()
        return Response("ok")

    def slow_up() -> None:
        add(engine, "api", ports={5000: httpserver.port})
        add(engine, "worker", ports={5001: httpserver.port})
        # compose is still busy (pulling, creating networks...) when the services answer.
        assert polled_during_up.wait(5), "no health request while `up` was still running"

    httpserver.expect_request("/health").respond_with_handler(health)
    httpserver.expect_request("/ready").respond_with_handler(health)
    compose = FakeCompose(project_name=PROJECT, on_start=slow_up)

    make_stack(engine, compose=compose).start()

    assert compose.events == ["start"]
    assert polled_during_up.is_set()


def test_a_container_not_yet_created_by_up_is_waited_for(engine: FakeEngine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/health").respond_with_data("ok")
    httpserver.expect_request("/ready").respond_with_data("ok")

    def up_after_being_looked_for() -> None:
        wait_for(lambda: len(engine.list_calls) >= 4, timeout=5, what="the containers to be looked for")
        add(engine, "api", ports={5000: httpserver.port})
        add(engine, "worker", ports={5001: httpserver.port})

    stack = make_stack(engine, compose=FakeCompose(project_name=PROJECT, on_start=up_after_being_looked_for))

    stack.start()  # "no container yet" during `up` is not a lost service
    assert stack.state("api") == ContainerState("running")


def test_a_failing_up_stops_polling_at_once_and_is_the_error_raised(engine: FakeEngine) -> None:
    def up_fails() -> None:
        raise ComposeCommandError(["docker", "compose", "up"], 1, "", "pull access denied")

    stack = make_stack(engine, compose=FakeCompose(project_name=PROJECT, on_start=up_fails))

    started = time.monotonic()
    with pytest.raises(ComposeCommandError, match="pull access denied"):
        stack.start()
    assert time.monotonic() - started < 3, "not at the 10 s deadline"
    assert stack.state("api") == ContainerState("missing"), "start-up is over"


class Interrupted(Exception):
    """Stands in for the KeyboardInterrupt that Ctrl-C or SIGTERM raises in the main thread."""


def test_an_interrupt_during_start_cancels_compose_up(engine: FakeEngine, httpserver: HTTPServer) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed from the main thread")
    hits = 0

    def health(request: Request) -> Response:
        nonlocal hits
        hits += 1
        if hits == 3:  # the main thread is waiting for the probes by now
            os.kill(os.getpid(), signal.SIGUSR1)
        return Response("booting", 503)

    httpserver.expect_request("/health").respond_with_handler(health)
    httpserver.expect_request("/ready").respond_with_handler(health)

    def slow_up() -> None:
        add(engine, "api", ports={5000: httpserver.port})
        add(engine, "worker", ports={5001: httpserver.port})
        compose.cancelled.wait(10)  # `up` runs on until the harness kills it

    compose = FakeCompose(project_name=PROJECT, on_start=slow_up)
    stack = make_stack(engine, compose=compose)

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        started = time.monotonic()
        with pytest.raises(Interrupted):
            stack.start()
        elapsed = time.monotonic() - started
    finally:
        signal.signal(signal.SIGUSR1, previous)

    assert "cancel" in compose.events
    assert elapsed < 2, f"the interrupt took {elapsed:.1f} s to get through"


def test_a_timed_out_start_lists_every_unhealthy_service(engine: FakeEngine, httpserver: HTTPServer) -> None:
    add(engine, "api", ports={5000: httpserver.port})
    add(engine, "worker", ports={5001: httpserver.port})
    httpserver.expect_request("/health").respond_with_data("no", status=503)
    httpserver.expect_request("/ready").respond_with_data("no", status=500)
    stack = make_stack(engine)

    with pytest.raises(StackStartError) as caught:
        stack.wait_until_healthy(timeout=0.3, reason="too slow")

    assert [f.service for f in caught.value.failures] == ["api", "worker"]
    assert "HTTP 500: 'no'" in str(caught.value)
    assert "health deadline 0.3 s" in str(caught.value)


def test_wait_until_healthy_checks_only_the_services_asked_for(
    engine: FakeEngine, httpserver: HTTPServer
) -> None:
    add(engine, "api", ports={5000: httpserver.port})  # worker has no container at all
    httpserver.expect_request("/health").respond_with_data("ok")

    results = make_stack(engine).wait_until_healthy(timeout=5, reason="r", services=["api"])

    assert [(r.service, r.healthy) for r in results] == [("api", True)]


def test_ensure_healthy_raises_service_unhealthy_naming_service_and_reason(
    engine: FakeEngine, httpserver: HTTPServer
) -> None:
    add(engine, "api", ports={5000: httpserver.port}, status="exited", exit_code=1)
    add(engine, "worker", ports={5001: httpserver.port})
    httpserver.expect_request("/ready").respond_with_data("ok")

    with pytest.raises(ServiceUnhealthyError) as caught:
        make_stack(engine).ensure_healthy(timeout=5, why="not healthy after healing crash")

    assert not isinstance(caught.value, StackStartError)
    message = str(caught.value)
    assert "not healthy after healing crash" in message
    assert "service 'api'" in message
    assert "exited, exit code 1" in message


def test_ensure_healthy_ignores_a_stale_docker_unhealthy(engine: FakeEngine, httpserver: HTTPServer) -> None:
    add(engine, "api", ports={5000: httpserver.port}, health="unhealthy")
    add(engine, "worker", ports={5001: httpserver.port}, health="unhealthy")
    httpserver.expect_request("/health").respond_with_data("ok")
    httpserver.expect_request("/ready").respond_with_data("ok")

    make_stack(engine).ensure_healthy(timeout=5, why="after fault")  # must not raise


def test_ensure_healthy_looks_ports_up_again(engine: FakeEngine, httpserver: HTTPServer) -> None:
    api = add(engine, "api", ports={5000: 1})
    worker = add(engine, "worker", ports={5001: 1})
    stack = make_stack(engine)
    assert stack.url("api") == "http://127.0.0.1:1"
    # Restarted by a fault: now published on the test server's port.
    for ident, port in ((api, "5000/tcp"), (worker, "5001/tcp")):
        engine.container_attrs[ident]["NetworkSettings"]["Ports"][port][0]["HostPort"] = str(httpserver.port)
    httpserver.expect_request("/health").respond_with_data("ok")
    httpserver.expect_request("/ready").respond_with_data("ok")

    stack.ensure_healthy(timeout=5, why="after restart")

    assert stack.url("api") == f"http://127.0.0.1:{httpserver.port}"


def test_stop_removes_the_project_through_the_engine_and_forgets_urls(engine: FakeEngine) -> None:
    ident = add(engine, "api", ports={5000: 32771})
    stopped = add(engine, "worker", status="exited")
    network = engine.add_network(f"{PROJECT}_default", project=PROJECT, labels=OWNED)
    volume = engine.add_volume(f"{PROJECT}_data", project=PROJECT, labels=OWNED)
    other = engine.add_container("other-api-1", project="other", service="api")
    unlabelled = add(engine, "sidecar", labels={})  # not made by the harness: not ours to remove
    unlabelled_volume = engine.add_volume(f"{PROJECT}_cache", project=PROJECT)
    compose = FakeCompose(project_name=PROJECT)
    stack = make_stack(engine, compose=compose)
    stack.url("api")

    stack.stop()

    assert set(engine.container_attrs) == {other, unlabelled}
    assert network not in engine.network_attrs
    assert volume not in engine.volume_attrs
    assert unlabelled_volume in engine.volume_attrs
    assert {c.ident for c in engine.calls_to("remove_container")} == {ident, stopped}
    assert compose.events == ["cancel"], "only a cancel of any running compose: the engine did the rest"
    with pytest.raises(LookupError):
        stack.url("api")  # not answered from the cache


def test_stop_never_falls_back_to_an_unscoped_compose_down_when_the_engine_refuses(
    engine: FakeEngine,
) -> None:
    """Issue 24 §10: the fallback `compose down --remove-orphans --volumes` removed unlabelled
    resources sharing the project name."""
    ident = add(engine, "api")
    stranger = engine.add_container(f"{PROJECT}-debug-1", project=PROJECT, service="debug")
    engine.fail_on[("remove_container", ident)] = docker.errors.APIError("500 Server Error: device busy")
    compose = FakeCompose(project_name=PROJECT)
    stack = make_stack(engine, compose=compose)

    with pytest.raises(docker.errors.APIError, match="device busy"):
        stack.stop()

    assert compose.events == ["cancel"]
    assert stranger in engine.container_attrs
    del engine.fail_on[("remove_container", ident)]
    stack.stop()  # not marked stopped: the backstop's second try removes it
    assert set(engine.container_attrs) == {stranger}


def test_stop_is_idempotent_and_safe_from_two_threads(engine: FakeEngine) -> None:
    ident = add(engine, "api")
    stack = make_stack(engine, compose=FakeCompose(project_name=PROJECT))

    threads = [threading.Thread(target=stack.stop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    stack.stop()

    assert [c.ident for c in engine.calls_to("remove_container")] == [ident]


def test_project_is_the_compose_project_name(engine: FakeEngine) -> None:
    assert make_stack(engine, compose=FakeCompose(project_name="p-1")).project == "p-1"


# --- repair ------------------------------------------------------------------------------------


def test_repair_unpauses_brings_back_what_is_missing_and_waits(
    engine: FakeEngine, httpserver: HTTPServer
) -> None:
    paused = add(engine, "api", status="paused", ports={5000: 1})
    httpserver.expect_request("/health").respond_with_data("ok")
    httpserver.expect_request("/ready").respond_with_data("ok")

    def up() -> None:  # compose recreates the removed worker; api comes back on a new host port
        engine.container_attrs[paused]["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"] = str(
            httpserver.port
        )
        add(engine, "worker", ports={5001: httpserver.port})

    compose = FakeCompose(project_name=PROJECT, on_start=up)
    stack = make_stack(engine, compose=compose)
    assert stack.url("api") == "http://127.0.0.1:1"

    stack.repair()

    assert engine.state(paused)["Status"] == "running"
    assert [c.ident for c in engine.calls_to("unpause")] == [paused]
    assert compose.events == ["start"], "the stack's own compose: same files, override and environment"
    assert stack.url("api") == f"http://127.0.0.1:{httpserver.port}", "ports looked up again"


def test_a_repair_that_does_not_heal_names_the_service(engine: FakeEngine, httpserver: HTTPServer) -> None:
    add(engine, "api", ports={5000: httpserver.port}, status="exited", exit_code=1)
    add(engine, "worker", ports={5001: httpserver.port})
    httpserver.expect_request("/ready").respond_with_data("ok")

    with pytest.raises(StackStartError, match="not healthy after repair") as caught:
        make_stack(engine).repair()

    lost = next(f for f in caught.value.failures if f.service == "api")
    assert (lost.state, lost.exit_code) == ("exited", 1)


# --- stop after a killed `compose up` (issue 24 §11) ---------------------------------------------


@pytest.fixture
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_module, "SETTLE_QUIET", 0.3)
    monkeypatch.setattr(stack_module, "SETTLE_POLL", 0.02)


def completing_creates(engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, creates: int) -> list[int]:
    """The engine finishing `creates` requests of a killed compose, one right after each look."""
    from pytest_microstack._cleanup.removal import remove_project as real

    looks: list[int] = []

    def remove_then_create(client: Any, project: str, *, owner: str) -> int:
        found = real(client, project, owner=owner)
        looks.append(found)
        if len(looks) <= creates:
            add(engine, f"late{len(looks)}")
        return found

    monkeypatch.setattr(stack_module, "remove_project", remove_then_create)
    return looks


def test_a_stop_after_a_killed_up_removes_what_the_engine_creates_after_the_first_look(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, quick_settle: None
) -> None:
    """Issue 24 §11: 3 resources of an interrupted start-up stayed for over 60 s: the engine
    completed compose's requests after the teardown had looked."""
    add(engine, "api")
    looks = completing_creates(engine, monkeypatch, creates=2)
    compose = FakeCompose(project_name=PROJECT, killed_mid_command=True)

    began = time.monotonic()
    make_stack(engine, compose=compose).stop()
    took = time.monotonic() - began

    assert engine.container_attrs == {}
    assert looks[:3] == [1, 1, 1]
    assert set(looks[3:]) == {0}
    assert took >= stack_module.SETTLE_QUIET, "quiet for SETTLE_QUIET before it returns"
    assert took < stack_module.SETTLE_QUIET + 5, "stated margin: 5 s for the polls on a loaded machine"


def test_a_stop_with_no_compose_killed_looks_once(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, quick_settle: None
) -> None:
    add(engine, "api")
    looks = completing_creates(engine, monkeypatch, creates=0)

    make_stack(engine, compose=FakeCompose(project_name=PROJECT)).stop()

    assert looks == [1]


def test_settling_ends_at_its_limit_however_long_the_engine_keeps_creating(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, quick_settle: None
) -> None:
    monkeypatch.setattr(stack_module, "SETTLE_LIMIT", 0.5)
    completing_creates(engine, monkeypatch, creates=10**6)

    began = time.monotonic()
    make_stack(engine, compose=FakeCompose(project_name=PROJECT, killed_mid_command=True)).stop()

    assert time.monotonic() - began < 0.5 + 5, "SETTLE_LIMIT plus a stated 5 s margin"

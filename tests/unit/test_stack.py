"""tests.harness.stack: a compose project addressed through a (fake) engine."""

from __future__ import annotations

import time
from typing import Any, cast

import docker.errors
import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from tests.harness.errors import ComposeCommandError, ServiceUnhealthyError, StackStartError
from tests.harness.readiness import ContainerState
from tests.harness.stack import LOG_TAIL_LINES, ServiceSpec, Stack
from tests.unit.fakes import FakeCompose, FakeEngine

PROJECT = "microstack-it-cafe-main"
SERVICES = (ServiceSpec("api", 5000), ServiceSpec("worker", 5001, "/ready"))


def make_stack(engine: FakeEngine, *, compose: FakeCompose | None = None, host: str = "127.0.0.1") -> Stack:
    compose = compose or FakeCompose(project_name=PROJECT)
    return Stack(cast(Any, compose), cast(Any, engine), host, SERVICES, startup_timeout=10)


def add(engine: FakeEngine, service: str, **kwargs: Any) -> str:
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

    with pytest.raises(LookupError, match=r"api publishes no host port for 5000"):
        stack.url("api")
    with pytest.raises(LookupError):
        stack.url("api")  # a failed lookup is not cached


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


def test_logs_without_a_container_or_with_an_engine_error_do_not_raise(engine: FakeEngine) -> None:
    stack = make_stack(engine)
    assert stack.logs("api") == "(no container)"

    ident = add(engine, "api")
    engine.fail_on[("logs", ident)] = docker.errors.APIError("configured logging driver does not support reading")
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


def test_start_failure_of_compose_itself_propagates(engine: FakeEngine) -> None:
    def up_fails() -> None:
        raise ComposeCommandError(["docker", "compose", "up"], 1, "", "no such image")

    stack = make_stack(engine, compose=FakeCompose(project_name=PROJECT, on_start=up_fails))

    with pytest.raises(ComposeCommandError, match="no such image"):
        stack.start()


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


def test_stop_takes_the_project_down_and_forgets_urls(engine: FakeEngine) -> None:
    ident = add(engine, "api", ports={5000: 32771})
    compose = FakeCompose(project_name=PROJECT)
    stack = make_stack(engine, compose=compose)
    stack.url("api")

    stack.stop()

    assert compose.events == ["stop"]
    engine.container_attrs[ident]["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"] = "32999"
    assert stack.url("api") == "http://127.0.0.1:32999"


def test_project_is_the_compose_project_name(engine: FakeEngine) -> None:
    assert make_stack(engine, compose=FakeCompose(project_name="p-1")).project == "p-1"

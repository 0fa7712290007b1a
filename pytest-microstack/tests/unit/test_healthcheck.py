"""_core.healthcheck: the harness runs a container's healthcheck itself where the engine never does."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from pytest_microstack._core.healthcheck import (
    DEFAULT_INTERVAL,
    GRACE,
    NANOSECONDS,
    SPACING,
    SelfRunHealthchecks,
    healthcheck_command,
    run_with_timeout,
)
from pytest_microstack._core.readiness import ContainerState, wait_until_healthy
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._settings import ServiceSpec

from unit.fakes import FakeCompose, FakeEngine

PROJECT = "microstack-it-cafe-main"
INTERVAL = 2.0
CHECK = ["CMD", "test", "-f", "/tmp/ready"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def healthcheck(test: list[str], interval: float | None = INTERVAL) -> dict[str, Any]:
    config: dict[str, Any] = {"Test": test, "Retries": 3}
    if interval is not None:
        config["Interval"] = int(interval * NANOSECONDS)
    return config


@pytest.mark.parametrize(
    ("test", "command"),
    [
        pytest.param(CHECK, ["test", "-f", "/tmp/ready"], id="CMD"),
        pytest.param(["CMD-SHELL", "curl -f http://localhost/ || exit 1"], None, id="CMD-SHELL"),
        pytest.param(["NONE"], None, id="NONE"),
        pytest.param([], None, id="inherited"),
        pytest.param(["CMD"], None, id="CMD-without-command"),
    ],
)
def test_healthcheck_command(test: list[str], command: list[str] | None) -> None:
    if test[:1] == ["CMD-SHELL"]:
        command = ["/bin/sh", "-c", test[1]]
    assert healthcheck_command({"Test": test}) == command


def test_no_healthcheck_has_no_command() -> None:
    assert healthcheck_command(None) is None
    assert healthcheck_command({}) is None


def watched(kind: str = "podman", **container: Any) -> tuple[FakeEngine, Any, Clock, SelfRunHealthchecks]:
    engine = FakeEngine(kind)
    options: dict[str, Any] = {"health": "starting", "healthcheck": healthcheck(CHECK)}
    ident = engine.add_container(
        f"{PROJECT}-worker-1", project=PROJECT, service="worker", **{**options, **container}
    )
    clock = Clock()
    return engine, engine.containers.get(ident), clock, SelfRunHealthchecks(clock=clock)


def health_of(checks: SelfRunHealthchecks, container: Any) -> tuple[str, str]:
    return checks.health(container, container.attrs["State"])


def test_the_engines_own_runs_are_left_to_it() -> None:
    log = [{"ExitCode": 1, "Output": "not yet"}]
    engine, container, clock, checks = watched("docker", health_log=log)
    assert health_of(checks, container) == ("starting", "")
    clock.now += 60

    assert health_of(checks, container) == ("starting", "")
    assert engine.calls_to("exec_create") == [], "never run by the harness while the engine runs it"


def test_the_harness_runs_it_only_after_one_interval_and_the_grace() -> None:
    engine, container, clock, checks = watched()
    engine.exec_results[tuple(CHECK[1:])] = (0, b"")
    assert health_of(checks, container) == ("starting", "")  # first seen now

    clock.now += INTERVAL + GRACE - 0.001
    assert health_of(checks, container) == ("starting", "")
    assert engine.calls_to("exec_create") == []

    clock.now += 0.001
    health, note = health_of(checks, container)
    assert health == "healthy"
    assert "run by the harness" in note
    [call] = engine.calls_to("exec_create")
    assert call.ident == container.id
    assert call.kwargs["cmd"] == CHECK[1:]


def test_the_default_interval_applies_when_none_is_set() -> None:
    _engine, container, clock, checks = watched(healthcheck=healthcheck(CHECK, interval=None))
    health_of(checks, container)

    clock.now += DEFAULT_INTERVAL + GRACE - 0.001
    assert health_of(checks, container) == ("starting", "")
    clock.now += 0.001
    assert health_of(checks, container)[0] == "healthy"


def test_a_failing_check_leaves_it_starting_and_says_why() -> None:
    engine, container, clock, checks = watched()
    engine.exec_results[tuple(CHECK[1:])] = (1, b"no /tmp/ready yet\n")
    health_of(checks, container)
    clock.now += INTERVAL + GRACE

    health, note = health_of(checks, container)

    assert health == "starting"
    assert "exit 1" in note
    assert "no /tmp/ready yet" in note


def test_the_harness_runs_it_at_most_once_per_spacing() -> None:
    engine, container, clock, checks = watched()
    engine.exec_results[tuple(CHECK[1:])] = (1, b"")
    health_of(checks, container)
    clock.now += INTERVAL + GRACE
    health_of(checks, container)
    engine.exec_results[tuple(CHECK[1:])] = (0, b"")

    clock.now += SPACING - 0.001
    assert health_of(checks, container)[0] == "starting", "the last result, not a new run"
    assert len(engine.calls_to("exec_create")) == 1
    clock.now += 0.001
    assert health_of(checks, container)[0] == "healthy"
    assert len(engine.calls_to("exec_create")) == 2


def test_a_shell_form_check_runs_in_a_shell() -> None:
    shell = ["CMD-SHELL", "test -f /tmp/ready && echo ok"]
    engine, container, clock, checks = watched(healthcheck=healthcheck(shell))
    health_of(checks, container)
    clock.now += INTERVAL + GRACE

    health_of(checks, container)

    [call] = engine.calls_to("exec_create")
    assert call.kwargs["cmd"] == ["/bin/sh", "-c", "test -f /tmp/ready && echo ok"]


def test_a_check_that_hangs_is_cut_at_its_timeout() -> None:
    release = threading.Event()

    class Hanging:
        def exec_run(self, command: list[str]) -> tuple[int, bytes]:
            release.wait(10)
            return 0, b""

    try:
        assert run_with_timeout(Hanging(), ["sleep", "60"], timeout=0.05) == (None, "timed out after 0.05 s")
    finally:
        release.set()


def test_podman_without_healthcheck_runs_reaches_healthy_through_the_stack() -> None:
    """The `docker` check on Podman without systemd: state() turns healthy once the harness's run passes."""
    engine = FakeEngine("podman")
    engine.add_container(
        f"{PROJECT}-worker-1",
        project=PROJECT,
        service="worker",
        health="starting",
        healthcheck=healthcheck(CHECK),
    )
    engine.exec_results[tuple(CHECK[1:])] = (0, b"")
    stack = ComposeStack(
        cast(Any, FakeCompose(project_name=PROJECT)),
        cast(Any, engine),
        "127.0.0.1",
        (ServiceSpec("worker", check="docker"),),
        stack_timeout=10,
    )
    clock = Clock()
    stack._healthchecks = SelfRunHealthchecks(clock=clock)
    assert stack.state("worker") == ContainerState("running", None, "starting")
    clock.now += INTERVAL + GRACE

    [result] = stack.wait_until_healthy(timeout=5, reason="failed to start")

    assert result.healthy is True
    assert "healthcheck run by the harness" in result.last_seen


def test_a_docker_check_without_healthcheck_says_so_on_either_engine(either_engine: FakeEngine) -> None:
    either_engine.add_container(f"{PROJECT}-kv-1", project=PROJECT, service="kv")
    stack = ComposeStack(
        cast(Any, FakeCompose(project_name=PROJECT)),
        cast(Any, either_engine),
        "127.0.0.1",
        (ServiceSpec("kv", check="docker"),),
        stack_timeout=10,
    )

    [result] = wait_until_healthy([stack._probe("kv")], timeout=0.3)

    assert result.healthy is False
    assert "has no Docker healthcheck" in result.last_seen

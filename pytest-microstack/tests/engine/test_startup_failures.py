"""A broken service fails start-up fast, says why, and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._core.lifecycle import open_stack_with
from pytest_microstack._errors import StackConfigError, StackStartError
from pytest_microstack._ownership import new_run_id
from pytest_microstack._settings import ServiceSpec, StackSettings

from engine.conftest import project_resources

pytestmark = pytest.mark.integration
SERVICES = (
    ServiceSpec("web", 8080),
    ServiceSpec("kv", 6400, check="tcp"),
    ServiceSpec("worker", check="docker"),
)


def settings(project: Path, **changes: Any) -> StackSettings:
    return dataclasses.replace(StackSettings(root=project, services=SERVICES, run_id=new_run_id()), **changes)


def test_service_crashing_at_boot_fails_at_once_with_its_exit_code_and_logs(
    example_project: Path, engine: Any
) -> None:
    broken = settings(example_project, environment={"CRASH_AT_BOOT": "bad-config"}, stack_timeout=60)
    started = time.monotonic()

    with pytest.raises(StackStartError) as caught, open_stack_with(broken):
        pytest.fail("a stack whose web service can't boot must not start")

    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert elapsed < 20, f"took {elapsed:.1f} s: the crash must be seen long before the 60 s deadline"
    assert "service 'web'" in message
    assert "exited, exit code 3" in message
    assert "CRASH_AT_BOOT=bad-config" in message  # the log tail says why
    assert "60.0 s" in message
    assert project_resources(engine, broken.project) == []


def test_health_never_200_fails_at_the_deadline_with_the_last_response(
    example_project: Path, engine: Any
) -> None:
    never_healthy = (ServiceSpec("web", 8080, path="/no-such-health"), *SERVICES[1:])
    deadline = 8.0  # long enough for the healthy services to boot on a loaded 2-core machine
    broken = settings(example_project, services=never_healthy, stack_timeout=deadline)
    started = time.monotonic()

    with pytest.raises(StackStartError) as caught, open_stack_with(broken):
        pytest.fail("a service that never answers 200 must fail start-up")

    elapsed = time.monotonic() - started
    message = str(caught.value)
    # The deadline, plus one request's full timeout (1.5 s) and teardown, as margin.
    assert deadline <= elapsed < deadline + 7
    assert "service 'web' at http://127.0.0.1:" in message
    assert "/no-such-health" in message
    assert "HTTP 404" in message
    assert "container: running" in message
    assert "service 'kv'" not in message  # the healthy ones aren't blamed
    assert "service 'worker'" not in message
    assert project_resources(engine, broken.project) == []


def test_a_docker_check_on_a_service_without_healthcheck_says_to_add_one(
    example_project: Path, engine: Any
) -> None:
    broken = settings(example_project, services=(ServiceSpec("kv", 6400, check="docker"),), stack_timeout=8)

    with pytest.raises(StackStartError) as caught, open_stack_with(broken):
        pytest.fail("kv has no healthcheck to wait for")

    assert "has no Docker healthcheck" in str(caught.value)
    assert project_resources(engine, broken.project) == []


def test_a_service_with_network_mode_host_and_a_port_is_refused_before_start(example_project: Path) -> None:
    compose = example_project / "compose.yaml"
    compose.write_text(
        compose.read_text().replace("  kv:  # TCP only", "  kv:\n    network_mode: host  # TCP only")
    )

    with (
        pytest.raises(StackConfigError, match="service 'kv', key 'network_mode'"),
        open_stack_with(settings(example_project)),
    ):
        pytest.fail("must be refused")

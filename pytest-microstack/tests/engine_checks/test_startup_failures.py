"""A broken service fails start-up fast, says why, and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from tests.harness.errors import StackStartError
from tests.harness.lifecycle import StackSettings, open_stack
from tests.harness.ownership import new_run_id
from tests.harness.plugin import ROOT, SERVICES
from tests.harness.stack import ServiceSpec

from .conftest import project_resources

pytestmark = pytest.mark.integration


def settings(**changes: Any) -> StackSettings:
    return dataclasses.replace(StackSettings(root=ROOT, services=SERVICES, run_id=new_run_id()), **changes)


def test_service_crashing_at_boot_fails_at_once_with_its_exit_code_and_logs(engine: Any) -> None:
    # No secret: user-service refuses to boot and exits, like any bad deploy.
    broken = settings(environment={"USER_SERVICE_SECRET_KEY": ""}, startup_timeout=60)
    started = time.monotonic()

    with pytest.raises(StackStartError) as caught, open_stack(broken):
        pytest.fail("a stack whose user-service can't boot must not start")

    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert elapsed < 15, f"took {elapsed:.1f} s: the crash must be seen long before the 60 s deadline"
    assert "service 'user-service'" in message
    assert "exited, exit code" in message
    assert "SECRET_KEY" in message  # the log tail says why
    assert "60.0 s" in message
    assert project_resources(engine, broken.project) == []


def test_health_never_200_fails_at_the_deadline_with_the_last_response(engine: Any) -> None:
    never_healthy = (SERVICES[0], ServiceSpec("product-service", 5001, health_path="/no-such-health"))
    # Long enough for the healthy service to boot on a loaded 2-core machine.
    broken = settings(services=never_healthy, startup_timeout=8)
    started = time.monotonic()

    with pytest.raises(StackStartError) as caught, open_stack(broken):
        pytest.fail("a service that never answers 200 must fail start-up")

    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert 8 <= elapsed < 15
    assert "service 'product-service' at http://127.0.0.1:" in message
    assert "/no-such-health" in message
    assert "HTTP 404" in message
    assert "container: running" in message
    assert "user-service" not in message.split("\n", 1)[1]  # the healthy one isn't blamed
    assert project_resources(engine, broken.project) == []

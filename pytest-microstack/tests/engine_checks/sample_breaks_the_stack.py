"""Not collected on its own: test_health_guard.py runs it in a child pytest."""

from __future__ import annotations

from tests.harness.clients import ServiceClient
from tests.harness.stack import Stack


def test_1_stops_a_service_behind_the_harness_back(stack: Stack) -> None:
    container = stack.container("user-service")
    assert container is not None
    container.stop(timeout=5)


def test_2_runs_on_a_sound_stack_again(user_service: ServiceClient) -> None:
    assert user_service.get("/health").status_code == 200

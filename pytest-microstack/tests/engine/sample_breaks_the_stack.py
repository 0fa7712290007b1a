"""Not collected on its own: test_health_guard.py copies it into an example project and runs it."""

from __future__ import annotations

from collections.abc import Callable

from pytest_microstack._core.clients import ServiceClient
from pytest_microstack._core.stack import Stack


def test_1_stops_a_service_behind_the_harness_back(stack: Stack) -> None:
    container = stack.container("web")
    assert container is not None
    container.stop(timeout=5)


def test_2_runs_on_a_sound_stack_again(service_client: Callable[[str], ServiceClient]) -> None:
    assert service_client("web").get("/health").status_code == 200

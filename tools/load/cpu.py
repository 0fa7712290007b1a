"""CPU time each service's container spends, to turn into CPU per request.

Requests/s on a shared machine says as much about the neighbours as about the
services; the CPU a container burns per request hardly moves with them, so it is
what the tuning choices are compared on (engine stats, `one_shot`: no waiting).
"""

from __future__ import annotations

from typing import Any


def cpu_seconds(stack: Any, services: list[str]) -> dict[str, float]:
    """Total CPU seconds each service's container has used so far."""
    used = {}
    for service in services:
        container = stack.container(service)
        assert container is not None, f"{service} has no container"
        stats = container.stats(stream=False, one_shot=True)
        used[service] = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
    return used


def per_request_ms(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """CPU milliseconds per request for each service, between two readings."""
    return {service: (after[service] - before[service]) * 1000 / max(requests, 1) for service in before}

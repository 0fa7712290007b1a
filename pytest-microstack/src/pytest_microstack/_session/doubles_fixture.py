"""The `doubles` fixture; registered by `plugin.py` with the plugin's other fixtures.

doubles [function]  doubles[service].on(method, path).respond(...); removed when the test ends
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_microstack._core.stack import Stack
    from pytest_microstack._exchanges.doubles import Double, Doubles

HEALTH_AFTER_DOUBLES_TIMEOUT = 10.0


def make_double(stack: Stack, service: str) -> Double:
    """A double of `service`, talking to its proxy's control port."""
    from pytest_microstack._exchanges.doubles import Double
    from pytest_microstack._exchanges.records import callers, control_call, fetch, named, proxy_control_port

    sidecar = stack.fronts[service]

    def control(method: str, path: str, body: Any) -> Any:
        host, port = stack.address(sidecar, proxy_control_port(stack, sidecar))
        return control_call(host, port, method, path, body)

    def calls(since: float) -> list[Any]:
        return named(fetch(stack, service, since=since), callers(stack))

    return Double(service, control, calls)


@pytest.fixture
def doubles(stack: Stack) -> Iterator[Doubles]:
    """[function] doubles[service]: make a proxied service answer as the test says, for this test only.

    `doubles["user-service"].on("GET", "/users/*").respond(500, body=b"oops")`;
    unmatched requests reach the real service; `.calls` lists what it received.
    When the test ends every rule is removed, and the test errors unless the
    real service then answers its health check through its proxy.
    """
    from pytest_microstack._exchanges.doubles import Doubles

    made = Doubles(lambda service: make_double(stack, service), list(stack.fronts))
    yield made
    used = made._used()
    for double in used:
        double.remove()
    if used:
        stack.ensure_healthy(
            timeout=HEALTH_AFTER_DOUBLES_TIMEOUT,
            why="not answering through its proxy once doubles were removed",
        )

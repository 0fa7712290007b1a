"""A Ctrl-C during a fault ends the run as an interrupt, not as a failed heal of a stack being removed.

When a signal lands while a fault is applied, the harness's handler is already
removing the stack. Healing would wait for services that are going away and
raise ServiceUnhealthyError in place of the KeyboardInterrupt, so pytest would
report a failure and carry on with the next test. Instead the fault is undone
as far as it still can be, without a health check, and the interrupt goes on.
"""

from __future__ import annotations

from typing import Any, cast

import docker.errors
import pytest
from pytest_microstack._core.faults import Faults

from unit.fakes import FakeEngine
from unit.test_faults import FakeStack, add, methods


@pytest.fixture
def gone_stack(engine: FakeEngine) -> FakeStack:
    """A stack whose health can no longer be had: it is being removed."""
    return FakeStack(engine, unhealthy={"user-service": "container removing"})


def test_an_interrupt_inside_a_fault_block_is_not_replaced_by_a_failed_heal(
    engine: FakeEngine, gone_stack: FakeStack
) -> None:
    ident = add(engine, "user-service")
    injector = Faults(cast(Any, gone_stack))

    with pytest.raises(KeyboardInterrupt), injector.hang("user-service"):
        raise KeyboardInterrupt("signal SIGINT")

    assert methods(engine, ident)[-1] == "unpause", "the fault is still undone"
    assert gone_stack.health_checks == [], "no waiting for a stack that is going away"


def test_an_ordinary_failure_inside_a_fault_block_still_heals_and_checks(
    engine: FakeEngine, gone_stack: FakeStack
) -> None:
    add(engine, "user-service")
    injector = Faults(cast(Any, gone_stack))

    with pytest.raises(Exception, match="container removing"), injector.hang("user-service"):
        raise AssertionError("the test's own failure")

    assert gone_stack.health_checks, "a failed test is healed and checked as before"


def test_withdraw_all_undoes_every_fault_without_health_checks_and_never_raises(
    engine: FakeEngine, gone_stack: FakeStack
) -> None:
    paused = add(engine, "user-service")
    removed = add(engine, "product-service")
    injector = Faults(cast(Any, gone_stack))
    injector.hang("user-service")
    injector.down("product-service")
    engine.fail_on[("start", removed)] = docker.errors.NotFound("removed by the teardown meanwhile")

    injector.withdraw_all()

    assert methods(engine, paused)[-1] == "unpause"
    assert methods(engine, removed)[-1] == "start", "tried, and its failure swallowed"
    assert injector.applied == []
    assert gone_stack.health_checks == []

"""tests.harness.faults: faults applied through the engine, always healed, failures named."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, cast

import docker.errors
import pytest
from docker.models.containers import Container

from tests.harness.errors import ServiceUnhealthyError
from tests.harness.faults import Fault, FaultError, Faults
from tests.harness.waiting import wait_for
from tests.unit.fakes import FakeEngine

PROJECT = "microstack-it-cafe-main"


@dataclass
class FakeStack:
    """The part of Stack that Faults uses, backed by the fake engine."""

    engine: FakeEngine
    project: str = PROJECT
    unhealthy: dict[str, str] = field(default_factory=dict)  # service -> why it stays unhealthy
    events: list[str] = field(default_factory=list)
    health_checks: list[tuple[float, str]] = field(default_factory=list)

    def container(self, service: str) -> Container | None:
        found = self.engine.containers.list(
            all=True,
            filters={
                "label": [f"com.docker.compose.project={PROJECT}", f"com.docker.compose.service={service}"]
            },
        )
        return found[0] if found else None

    def environment(self, service: str) -> dict[str, str]:
        container = self.container(service)
        assert container is not None
        return dict(item.partition("=")[::2] for item in container.attrs["Config"]["Env"] or [])

    def forget_urls(self) -> None:
        self.events.append("forget_urls")

    def ensure_healthy(self, *, timeout: float, why: str) -> None:
        self.health_checks.append((timeout, why))
        self.events.append(f"ensure_healthy: {why}")
        if self.unhealthy:
            raise ServiceUnhealthyError("\n".join(f"{s}: {w}" for s, w in self.unhealthy.items()))


@pytest.fixture
def fake_stack(engine: FakeEngine) -> FakeStack:
    return FakeStack(engine)


@pytest.fixture
def injector(fake_stack: FakeStack) -> Faults:
    return Faults(cast(Any, fake_stack), heal_timeout=7.5)


def add(engine: FakeEngine, service: str, **kwargs: Any) -> str:
    return engine.add_container(f"{PROJECT}-{service}-1", project=PROJECT, service=service, **kwargs)


def methods(engine: FakeEngine, ident: str | None = None) -> list[str]:
    return [c.method for c in engine.calls if ident is None or c.ident == ident]


# --- Fault -------------------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_a_fault_used_as_a_context_manager_heals_once_on_exit() -> None:
    undo, check = Counter(), Counter()
    fault = Fault("hang", "api", undo, check)

    with fault as entered:
        assert entered is fault
        assert undo.count == 0, "not healed while the block runs"

    assert (undo.count, check.count) == (1, 1)
    assert fault.heal_seconds is not None
    assert fault.heal_seconds >= 0
    fault.heal()
    assert (undo.count, check.count) == (1, 1), "healing is idempotent"


def test_a_fault_is_healed_even_when_the_block_raises() -> None:
    undo, check = Counter(), Counter()

    with pytest.raises(RuntimeError, match="test failed"), Fault("down", "api", undo, check):
        raise RuntimeError("test failed")

    assert (undo.count, check.count) == (1, 1)


def test_heal_undoes_before_checking_health() -> None:
    order: list[str] = []
    Fault("down", "api", lambda: order.append("undo"), lambda: order.append("check")).heal()
    assert order == ["undo", "check"]


# --- applying faults ---------------------------------------------------------------------------


def test_down_stops_the_container_and_heal_starts_it_then_checks_health(
    engine: FakeEngine, fake_stack: FakeStack, injector: Faults
) -> None:
    ident = add(engine, "api")

    fault = injector.down("api")

    assert (fault.kind, fault.service) == ("down", "api")
    assert engine.state(ident)["Status"] == "exited"
    assert engine.calls_to("stop")[0].kwargs == {"timeout": 5}
    assert fake_stack.events == ["forget_urls"], "ports are looked up again after a fault"
    assert injector.applied == [fault]
    assert fault.inject_seconds >= 0

    fault.heal()

    assert engine.state(ident)["Status"] == "running"
    assert fake_stack.health_checks == [(7.5, "not healthy after healing down")]
    assert fault.heal_seconds is not None


def test_crash_kills_with_sigkill_and_waits_for_the_exit(engine: FakeEngine, injector: Faults) -> None:
    ident = add(engine, "api")

    with injector.crash("api"):
        assert methods(engine, ident) == ["kill", "wait"]
        assert engine.calls_to("kill")[0].kwargs == {"signal": "SIGKILL"}
        assert engine.calls_to("wait")[0].kwargs["condition"] == "not-running"
        assert engine.state(ident)["Status"] == "exited"

    assert engine.state(ident)["Status"] == "running"


@pytest.mark.parametrize(
    ("unpaused_meanwhile", "expect_unpause"),
    [pytest.param(False, True, id="still-paused"), pytest.param(True, False, id="already-unpaused")],
)
def test_hang_pauses_and_heal_unpauses_only_a_paused_container(
    engine: FakeEngine, injector: Faults, unpaused_meanwhile: bool, expect_unpause: bool
) -> None:
    ident = add(engine, "api")

    fault = injector.hang("api")
    assert engine.state(ident)["Status"] == "paused"
    if unpaused_meanwhile:
        engine.state(ident)["Status"] = "running"
    fault.heal()

    assert engine.state(ident)["Status"] == "running"
    assert ("unpause" in methods(engine, ident)) is expect_unpause


def test_slow_thaws_by_itself_after_the_given_time(engine: FakeEngine, injector: Faults) -> None:
    ident = add(engine, "api")

    fault = injector.slow("api", 0.05)
    wait_for(lambda: engine.state(ident)["Status"] == "running", timeout=5, what="the timer to unpause")
    fault.heal()

    assert methods(engine, ident).count("unpause") == 1, "healing a thawed container does not unpause again"


def test_slow_healed_early_unpauses_at_once(engine: FakeEngine, injector: Faults) -> None:
    ident = add(engine, "api")

    with injector.slow("api", 60):
        assert engine.state(ident)["Status"] == "paused"

    assert engine.state(ident)["Status"] == "running"


class Rendezvous:
    """Holds each caller until a second one arrives (or `patience` runs out), then lets both go."""

    def __init__(self, patience: float = 0.5) -> None:
        self.patience = patience
        self.arrived = 0
        self._condition = threading.Condition()

    def __call__(self, ident: str) -> None:
        with self._condition:
            self.arrived += 1
            self._condition.notify_all()
            self._condition.wait_for(lambda: self.arrived >= 2, timeout=self.patience)


def test_slow_healed_just_as_its_timer_fires_unpauses_once(
    engine: FakeEngine, injector: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    ident = add(engine, "api")
    thread_errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))
    rendezvous = Rendezvous()

    fault = injector.slow("api", 0.01)
    engine.on_inspect = rendezvous  # the timer's reload() now waits for heal()'s
    wait_for(lambda: rendezvous.arrived == 1, timeout=5, what="the timer to start thawing")
    heal_error: list[BaseException] = []
    try:
        fault.heal()
    except docker.errors.APIError as error:
        heal_error.append(error)
    wait_for(
        lambda: not [t for t in threading.enumerate() if isinstance(t, threading.Timer)],
        timeout=5,
        what="timer",
    )

    assert engine.state(ident)["Status"] == "running"
    assert heal_error == []
    assert thread_errors == []
    assert len(engine.calls_to("unpause")) == 1


def test_partition_disconnects_every_network_and_reconnects_with_aliases(
    engine: FakeEngine, injector: Faults
) -> None:
    front = engine.add_network(f"{PROJECT}_front")
    back = engine.add_network(f"{PROJECT}_back")
    ident = add(
        engine,
        "api",
        networks={f"{PROJECT}_front": ["api", "api-alias"], f"{PROJECT}_back": []},
    )

    fault = injector.partition("api")
    disconnected = {(c.ident, c.kwargs["container"]) for c in engine.calls_to("disconnect")}
    assert disconnected == {(front, ident), (back, ident)}
    assert not engine.calls_to("connect")

    fault.heal()
    connected = {c.ident: (c.kwargs["container"], c.kwargs["aliases"]) for c in engine.calls_to("connect")}
    assert connected == {front: (ident, ["api", "api-alias"]), back: (ident, [])}


def test_erroring_makes_the_database_unreadable_and_restores_its_mode(
    engine: FakeEngine, injector: Faults
) -> None:
    ident = add(engine, "api", env=["DATABASE_PATH=/data/users.db"])
    engine.exec_results[("stat", "-c", "%a", "/data/users.db")] = (0, b"640\n")

    fault = injector.erroring("api")
    fault.heal()

    execs = engine.calls_to("exec_create")
    assert [c.kwargs["cmd"] for c in execs] == [
        ["stat", "-c", "%a", "/data/users.db"],
        ["chmod", "000", "/data/users.db"],
        ["chmod", "640", "/data/users.db"],
    ]
    assert all(c.kwargs["user"] == "0" and c.ident == ident for c in execs), "run as root"


def test_erroring_needs_a_database_path(engine: FakeEngine, injector: Faults) -> None:
    add(engine, "api", env=["OTHER=1"])

    with pytest.raises(FaultError, match="api: no DATABASE_PATH"):
        injector.erroring("api")
    assert injector.applied == []


def test_a_failing_exec_names_the_command_container_and_output(engine: FakeEngine, injector: Faults) -> None:
    add(engine, "api", env=["DATABASE_PATH=/data/users.db"])
    engine.exec_results[("stat", "-c", "%a", "/data/users.db")] = (1, b"stat: cannot statx: No such file\n")

    with pytest.raises(FaultError) as caught:
        injector.erroring("api")

    message = str(caught.value)
    assert "`stat -c %a /data/users.db`" in message
    assert f"{PROJECT}-api-1" in message
    assert "exited 1" in message
    assert "No such file" in message
    assert injector.applied == []


@pytest.mark.parametrize("kind", ["down", "crash", "hang", "partition", "erroring"])
def test_a_service_without_a_container_is_a_fault_error(injector: Faults, kind: str) -> None:
    with pytest.raises(FaultError, match=f"api: no container in project {PROJECT}"):
        getattr(injector, kind)("api")
    assert injector.applied == []


# --- heal_all ----------------------------------------------------------------------------------


def test_heal_all_heals_latest_first_then_checks_the_whole_stack(
    engine: FakeEngine, fake_stack: FakeStack, injector: Faults
) -> None:
    first, second, third = add(engine, "a"), add(engine, "b"), add(engine, "c")
    injector.down("a")
    injector.hang("b")
    injector.crash("c")
    engine.calls.clear()

    injector.heal_all()

    heals = [(c.method, c.ident) for c in engine.calls if c.method in {"start", "unpause"}]
    assert heals == [("start", third), ("unpause", second), ("start", first)]
    assert injector.applied == []
    assert fake_stack.health_checks[-1] == (7.5, "not healthy at the end of the test")


def test_heal_all_skips_faults_already_healed(engine: FakeEngine, injector: Faults) -> None:
    ident = add(engine, "api")
    with injector.down("api"):
        pass
    engine.calls.clear()

    injector.heal_all()

    assert methods(engine, ident) == []


def test_heal_all_with_nothing_applied_still_checks_health(fake_stack: FakeStack, injector: Faults) -> None:
    injector.heal_all()
    assert fake_stack.health_checks == [(7.5, "not healthy at the end of the test")]


def test_heal_all_keeps_going_after_a_failed_heal_then_raises_naming_it(
    engine: FakeEngine, injector: Faults
) -> None:
    first, broken, last = add(engine, "a"), add(engine, "b"), add(engine, "c")
    injector.down("a")
    injector.down("b")
    injector.hang("c")
    engine.fail_on[("start", broken)] = docker.errors.APIError(
        "driver failed programming external connectivity"
    )

    with pytest.raises(ServiceUnhealthyError) as caught:
        injector.heal_all()

    message = str(caught.value)
    assert message.startswith("the stack could not be healed:")
    assert "down on b: driver failed programming external connectivity" in message
    assert "on a:" not in message
    assert "on c:" not in message
    assert engine.state(first)["Status"] == "running", "faults after the failed one are still healed"
    assert engine.state(last)["Status"] == "running"
    assert injector.applied == []


def test_heal_all_reports_every_fault_and_the_final_check(
    engine: FakeEngine, fake_stack: FakeStack, injector: Faults
) -> None:
    add(engine, "a")
    add(engine, "b")
    injector.crash("a")
    injector.hang("b")
    fake_stack.unhealthy["a"] = "HTTP 500 from /health"

    with pytest.raises(ServiceUnhealthyError) as caught:
        injector.heal_all()

    lines = str(caught.value).splitlines()
    assert any(line.startswith("hang on b: ") for line in lines)
    assert any(line.startswith("crash on a: ") for line in lines)
    assert [line for line in lines if line == "a: HTTP 500 from /health"], "the end-of-test check is reported"
    assert len(fake_stack.health_checks) == 3, "each fault's heal check, then the whole stack's"

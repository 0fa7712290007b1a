"""pytest_microstack._core.faults: faults applied through the engine, always healed, failures named."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, cast

import docker.errors
import pytest
from docker.models.containers import Container
from pytest_microstack._core import faults as faults_module
from pytest_microstack._core.faults import Fault, Faults, exec_in
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._errors import FaultError, ServiceUnhealthyError

from unit.fakes import FakeEngine

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


def test_down_closes_the_services_idle_client_connections_before_stopping_it(
    engine: FakeEngine, injector: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(engine, "api")
    order: list[str] = []
    monkeypatch.setattr(
        faults_module, "close_idle_connections", lambda service: order.append(f"close {service}")
    )
    real_stop = Container.stop

    def stop(self: Container, **kwargs: Any) -> None:
        order.append("stop")
        real_stop(self, **kwargs)

    monkeypatch.setattr(Container, "stop", stop)

    injector.down("api")

    assert order == ["close api", "stop"]


def test_crash_kills_with_sigkill_and_waits_for_the_exit(engine: FakeEngine, injector: Faults) -> None:
    ident = add(engine, "api")

    with injector.crash("api"):
        assert methods(engine, ident) == ["kill", "wait"]
        assert engine.calls_to("kill")[0].kwargs == {"signal": "SIGKILL"}
        assert engine.calls_to("wait")[0].kwargs["condition"] == "not-running"
        assert engine.state(ident)["Status"] == "exited"

    assert engine.state(ident)["Status"] == "running"


@pytest.mark.parametrize("kind", ["crash", "down"])
def test_on_podman_a_stop_is_applied_once_its_network_is_torn_down(kind: str) -> None:
    """Podman's cleanup (aardvark-dns reloading) after the fault returned stalled the test's next lookups."""
    engine = FakeEngine("podman")
    ident = add(engine, "api")
    engine.state(ident)["FinishedAt"] = "2026-12-08T00:07:10.092902964Z"
    engine.engine_events = [{"Action": "cleanup", "id": ident, "timeNano": 1796688430_300000000}]

    getattr(Faults(cast(Any, FakeStack(engine)), heal_timeout=7.5), kind)("api")

    stopping = "kill" if kind == "crash" else "stop"
    assert [m for m in methods(engine) if m in {stopping, "events"}] == [stopping, "events"]
    assert engine.calls_to("events")[0].kwargs["filters"] == {"container": ident, "event": "cleanup"}


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
    """Holds each caller until a second one arrives (or `patience` runs out), then lets both go.

    The first to arrive must be a timer thread: inspections before it (the fault
    being applied, on the test's thread) pass straight through. So the hook can
    be installed before the timer starts: installed after, a timer that fires
    first (a loaded machine deschedules the test's thread for more than its
    0.01 s) thaws unobserved and the test waits for an arrival that never comes.
    """

    def __init__(self, patience: float = 0.5) -> None:
        self.patience = patience
        self.arrived = 0
        self._condition = threading.Condition()

    def __call__(self, ident: str) -> None:
        with self._condition:
            if self.arrived == 0 and not isinstance(threading.current_thread(), threading.Timer):
                return
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
    engine.on_inspect = rendezvous  # the timer's reload() will wait for heal()'s

    fault = injector.slow("api", 0.01)
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


# --- project-specific faults: register, apply, exec_in ----------------------------------------------


@dataclass
class Injected:
    """A project fault that records what it was given and when it was undone."""

    calls: list[tuple[Any, str | None, dict[str, Any]]] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)

    def __call__(self, stack: Any, container: Container, **options: Any) -> Any:
        self.calls.append((stack, container.id, options))
        return lambda: self.undone.append(str(container.id))


def test_a_registered_fault_is_applied_by_name_with_its_options_and_healed(
    engine: FakeEngine, fake_stack: FakeStack, injector: Faults
) -> None:
    ident = add(engine, "api")
    inject = Injected()
    injector.register("erroring", inject)

    fault = injector.apply("erroring", "api", path="/data/users.db")

    assert (fault.kind, fault.service) == ("erroring", "api")
    assert inject.calls == [(fake_stack, ident, {"path": "/data/users.db"})]
    assert injector.applied == [fault]
    assert fake_stack.events == ["forget_urls"]
    assert inject.undone == []

    fault.heal()

    assert inject.undone == [ident]
    assert fake_stack.health_checks == [(7.5, "not healthy after healing erroring")]


def test_a_registered_fault_is_also_a_method_of_faults(engine: FakeEngine, injector: Faults) -> None:
    ident = add(engine, "api")
    inject = Injected()
    injector.register("erroring", inject)

    with injector.erroring("api", mode="000") as fault:
        assert fault.kind == "erroring"
        assert inject.calls[0][1:] == (ident, {"mode": "000"})

    assert inject.undone == [ident]


def test_registered_faults_belong_to_one_faults_object(engine: FakeEngine, fake_stack: FakeStack) -> None:
    first, second = Faults(cast(Any, fake_stack)), Faults(cast(Any, fake_stack))
    first.register("erroring", Injected())

    with pytest.raises(AttributeError, match="pytest_microstack_add_faults"):
        second.erroring("api")


def test_an_unknown_fault_name_lists_the_known_ones(injector: Faults) -> None:
    injector.register("erroring", Injected())

    with pytest.raises(FaultError, match=r"no fault named 'flooding' \(known: .*crash.*erroring.*\)"):
        injector.apply("flooding", "api")
    with pytest.raises(
        AttributeError, match="has no fault 'flooding': register it in pytest_microstack_add_faults"
    ):
        injector.flooding("api")
    assert injector.applied == []


@pytest.mark.parametrize("kind", ["down", "crash", "hang", "slow", "partition", "not-an-identifier", ""])
def test_register_refuses_a_built_in_name_or_a_non_identifier(injector: Faults, kind: str) -> None:
    with pytest.raises(FaultError, match="is taken or not an identifier"):
        injector.register(kind, Injected())


def test_a_fault_whose_inject_fails_is_not_recorded_as_applied(engine: FakeEngine, injector: Faults) -> None:
    add(engine, "api")

    def broken(stack: Any, container: Container) -> Any:
        raise FaultError("api: no DATABASE_PATH in its environment to make unreadable")

    injector.register("erroring", broken)

    with pytest.raises(FaultError, match="no DATABASE_PATH"):
        injector.erroring("api")
    assert injector.applied == []


@pytest.mark.parametrize(
    ("own_user", "given", "expected"),
    [
        pytest.param("1000:1000", None, "1000:1000", id="the-containers-own-user"),
        pytest.param("", None, "", id="image-default-user"),
        pytest.param(None, None, "", id="no-user-in-config"),
        pytest.param("1000", "0", "0", id="explicit-user-wins"),
    ],
)
def test_exec_in_runs_as_the_containers_own_user_by_default(
    engine: FakeEngine, own_user: str | None, given: str | None, expected: str
) -> None:
    ident = add(engine, "api")
    if own_user is not None:
        engine.container_attrs[ident]["Config"]["User"] = own_user
    engine.exec_results[("stat", "-c", "%a", "/data/users.db")] = (0, b"640\n")
    container = engine.containers.get(ident)

    output = exec_in(container, ["stat", "-c", "%a", "/data/users.db"], user=given)

    assert output == "640\n"
    [call] = engine.calls_to("exec_create")
    assert (call.ident, call.kwargs["cmd"], call.kwargs["user"]) == (
        ident,
        ["stat", "-c", "%a", "/data/users.db"],
        expected,
    )


def test_a_failing_exec_names_the_command_container_and_output(engine: FakeEngine) -> None:
    ident = add(engine, "api")
    engine.exec_results[("stat", "-c", "%a", "/data/users.db")] = (1, b"stat: cannot statx: No such file\n")

    with pytest.raises(FaultError) as caught:
        exec_in(engine.containers.get(ident), ["stat", "-c", "%a", "/data/users.db"])

    message = str(caught.value)
    assert "`stat -c %a /data/users.db`" in message
    assert f"{PROJECT}-api-1" in message
    assert "exited 1" in message
    assert "No such file" in message


@pytest.mark.parametrize("kind", ["down", "crash", "hang", "partition", "erroring"])
def test_a_service_without_a_container_is_a_fault_error(injector: Faults, kind: str) -> None:
    inject = Injected()
    injector.register("erroring", inject)

    with pytest.raises(FaultError, match=f"api: no container in project {PROJECT}"):
        getattr(injector, kind)("api")
    assert injector.applied == []
    assert inject.calls == []


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

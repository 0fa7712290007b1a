"""Break a service for real through the engine, and always put it back.

Each operation applies its fault at once and returns a `Fault`. Used as a
context manager the fault is healed when the block ends; called plainly it is
healed when the test ends. Healing waits until the service answers its health
endpoint again, so the next test always starts on a healthy stack.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from docker.models.containers import Container

from pytest_microstack._core.clients import close_idle_connections
from pytest_microstack._core.fault_events import announce
from pytest_microstack._core.stack import Stack
from pytest_microstack._engine.network_teardown import await_network_teardown
from pytest_microstack._errors import FaultError, ServiceUnhealthyError

DEFAULT_HEAL_TIMEOUT = 30.0
BUILT_IN = ("down", "crash", "hang", "slow", "partition")
# inject(stack, container, **options) -> undo
CustomFault = Callable[..., Callable[[], None]]


@dataclass
class Fault:
    """One applied fault: how long it took to apply, and how to undo it."""

    kind: str
    service: str
    undo: Callable[[], None]
    heal_check: Callable[[], None]
    inject_seconds: float = 0.0
    heal_seconds: float | None = None
    _healed: bool = field(default=False, init=False, repr=False)

    def heal(self) -> None:
        """Undo the fault and wait until the service is healthy; idempotent."""
        if self._healed:
            return
        self._healed = True
        started = time.monotonic()
        self.undo()
        announce(self.kind, self.service, "heal")
        self.heal_check()
        self.heal_seconds = time.monotonic() - started

    def withdraw(self) -> None:
        """Undo the fault as far as possible, without waiting for health; never raises.

        For a run that is being interrupted: its stack is already being
        removed, and a failed health check must not take the interrupt's place.
        """
        if self._healed:
            return
        self._healed = True
        with contextlib.suppress(Exception):
            self.undo()

    def __enter__(self) -> Fault:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):  # Ctrl-C, SIGTERM, exit
            self.withdraw()
        else:
            self.heal()


class Faults:
    """The `faults` fixture: down, crash, hang, slow and partition, plus what the project registers."""

    stack: Stack
    heal_timeout: float
    applied: list[Fault]  # the faults still applied, in order

    def __init__(self, stack: Stack, heal_timeout: float = DEFAULT_HEAL_TIMEOUT) -> None:
        self.stack = stack
        self.heal_timeout = heal_timeout
        self.applied = []
        self._custom: dict[str, CustomFault] = {}

    def _container(self, service: str) -> Container:
        container = self.stack.container(service)
        if container is None:
            raise FaultError(f"{service}: no container in project {self.stack.project}")
        return container

    def _apply(self, kind: str, service: str, inject: Callable[[Container], Callable[[], None]]) -> Fault:
        """Inject into the service's container; `inject` returns how to undo it."""
        started = time.monotonic()
        undo = inject(self._container(service))
        self.stack.forget_urls()

        def heal_check() -> None:
            self.stack.ensure_healthy(timeout=self.heal_timeout, why=f"not healthy after healing {kind}")

        announce(kind, service, "inject")
        fault = Fault(kind, service, undo, heal_check, time.monotonic() - started)
        self.applied.append(fault)
        return fault

    def down(self, service: str) -> Fault:
        """Stop the service: connections refused, its name no longer resolves.

        Applied once the engine has torn its network down (see `await_network_teardown`).

        The test clients' idle connections to it are closed first, so that the
        graceful stop doesn't wait for them (gunicorn keeps a stopping worker's
        idle kept-alive connections open up to 2 s); the clients reconnect on
        their next call, and are refused while the service is down.
        """

        def inject(container: Container) -> Callable[[], None]:
            close_idle_connections(service)
            container.stop(timeout=5)
            await_network_teardown(self.stack.engine, container)
            return lambda: container.start()

        return self._apply("down", service, inject)

    def crash(self, service: str) -> Fault:
        """SIGKILL the service, as an OOM kill or a crash would; healing starts it again.

        Applied once the engine has torn its network down (see `await_network_teardown`).
        """

        def inject(container: Container) -> Callable[[], None]:
            container.kill(signal="SIGKILL")
            container.wait(condition="not-running", timeout=10)
            await_network_teardown(self.stack.engine, container)
            return lambda: container.start()

        return self._apply("crash", service, inject)

    def hang(self, service: str) -> Fault:
        """Freeze the service: connections are accepted but nothing answers."""

        def inject(container: Container) -> Callable[[], None]:
            container.pause()
            return lambda: _unpause_if_paused(container)

        return self._apply("hang", service, inject)

    def slow(self, service: str, seconds: float) -> Fault:
        """Freeze the service for `seconds`, then thaw it: a latency spike for requests in flight."""

        def inject(container: Container) -> Callable[[], None]:
            container.pause()
            timer = threading.Timer(seconds, _unpause_if_paused, args=(container,))
            timer.daemon = True
            timer.start()

            def undo() -> None:
                timer.cancel()
                _unpause_if_paused(container)

            return undo

        return self._apply("slow", service, inject)

    def partition(self, service: str) -> Fault:
        """Cut the service off the stack's networks; reconnect it with its aliases."""

        def inject(container: Container) -> Callable[[], None]:
            attached = container.attrs["NetworkSettings"]["Networks"]
            saved = {name: list(settings.get("Aliases") or []) for name, settings in attached.items()}
            for name in saved:
                self.stack.engine.networks.get(name).disconnect(container)

            def undo() -> None:
                for name, aliases in saved.items():
                    self.stack.engine.networks.get(name).connect(container, aliases=aliases)

            return undo

        return self._apply("partition", service, inject)

    def register(self, kind: str, inject: CustomFault) -> None:
        """Add a project-specific fault, then call it as `faults.<kind>(service, **options)`.

        `inject(stack, container, **options)` breaks the service and returns how
        to undo it; healing and the health check after it are the harness's.
        Projects register theirs in the `pytest_microstack_add_faults` hook.
        """
        if kind in BUILT_IN or not kind.isidentifier():
            raise FaultError(f"fault name {kind!r} is taken or not an identifier")
        self._custom[kind] = inject

    def apply(self, kind: str, service: str, **options: Any) -> Fault:
        """Apply a registered project-specific fault by name."""
        if kind not in self._custom:
            known = ", ".join(sorted((*BUILT_IN, *self._custom)))
            raise FaultError(f"no fault named {kind!r} (known: {known})")
        inject = self._custom[kind]
        return self._apply(kind, service, lambda container: inject(self.stack, container, **options))

    def __getattr__(self, kind: str) -> Callable[..., Fault]:
        custom = self.__dict__.get("_custom", {})
        if kind not in custom:
            raise AttributeError(
                f"{type(self).__name__} has no fault {kind!r}: register it in pytest_microstack_add_faults"
            )
        return lambda service, **options: self.apply(kind, service, **options)

    def withdraw_all(self) -> None:
        """Undo every fault still applied (latest first), without health checks: the run is ending."""
        for fault in reversed(self.applied):
            fault.withdraw()
        self.applied.clear()

    def heal_all(self) -> None:
        """Undo every fault still applied (latest first), then check the whole stack."""
        errors = []
        for fault in reversed(self.applied):
            try:
                fault.heal()
            except Exception as error:  # noqa: BLE001 - one failed heal must not stop the others
                errors.append(f"{fault.kind} on {fault.service}: {error}")
        self.applied.clear()
        try:
            self.stack.ensure_healthy(timeout=self.heal_timeout, why="not healthy at the end of the test")
        except ServiceUnhealthyError as error:
            errors.append(str(error))
        if errors:
            raise ServiceUnhealthyError("the stack could not be healed:\n" + "\n".join(errors))


_UNPAUSE_LOCK = threading.Lock()


def _unpause_if_paused(container: Container) -> None:
    """Unpause once: slow()'s timer and an early heal() may both get here."""
    with _UNPAUSE_LOCK:
        container.reload()
        if container.status == "paused":
            container.unpause()


def exec_in(container: Container, command: list[str], *, user: str | None = None) -> str:
    """Run a command in the container (as `user`, default the container's own); fail naming it.

    For project-specific faults. The container's own user is the safe default:
    containers that drop every capability can't let root change its files.
    """
    user = user if user is not None else (container.attrs.get("Config", {}).get("User") or "")
    exit_code, output = container.exec_run(command, user=user)
    text = output.decode(errors="replace") if isinstance(output, bytes) else ""
    if exit_code != 0:
        raise FaultError(f"`{' '.join(command)}` in {container.name} exited {exit_code}: {text.strip()}")
    return text

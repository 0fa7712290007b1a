"""A running compose stack: where its services answer, their state, their logs, their health.

`Stack` is what users get (the `stack` fixture, `open_stack`): public, and
abstract, so it is never built by hand. `ComposeStack` is the harness's own:
the compose project it starts and removes, labelled with its owner.
"""

from __future__ import annotations

import abc
import threading
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from pytest_microstack._cleanup.removal import remove_project
from pytest_microstack._core.healthcheck import SelfRunHealthchecks
from pytest_microstack._core.readiness import ContainerState, Probe, ProbeResult, wait_until_healthy
from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._engine.containers import list_containers
from pytest_microstack._engine.engine import EngineInfo, engine_info
from pytest_microstack._engine.logs import log_tail
from pytest_microstack._errors import ServiceDiagnosis, ServiceUnhealthyError, StackStartError
from pytest_microstack._ownership import PROJECT_LABEL, SERVICE_LABEL, Owner
from pytest_microstack._settings import ServiceSpec

LOG_TAIL_LINES = 40
# After a `compose up` was killed mid-way (Ctrl-C during start-up), the engine still
# completes the requests compose had sent: a container or network can appear after the
# teardown's first look. The teardown looks again until nothing of the project has
# appeared for SETTLE_QUIET seconds, SETTLE_LIMIT at most; only then does the run exit.
SETTLE_QUIET = 2.0
SETTLE_LIMIT = 15.0
SETTLE_POLL = 0.2


class Stack(abc.ABC):
    """One compose project under test, addressed through the engine's API."""

    engine: docker.DockerClient
    host: str
    services: dict[str, ServiceSpec]
    stack_timeout: float
    # service -> the service publishing its declared port for it (its recording proxy)
    fronts: dict[str, str]

    def __init__(
        self,
        engine: docker.DockerClient,
        host: str,
        services: Iterable[ServiceSpec],
        stack_timeout: float,
    ) -> None:
        self.engine = engine
        self.host = host
        self.services = {spec.name: spec for spec in services}
        self.stack_timeout = stack_timeout  # seconds to become ready: at start, after a repair
        self._addresses: dict[str, tuple[str, int]] = {}
        self.fronts = {}
        self._starting = False
        self._healthchecks = SelfRunHealthchecks()
        # All the time spent waiting for readiness (start, checks, heals), for the run's summary.
        self._waited = 0.0

    @property
    @abc.abstractmethod
    def project(self) -> str:
        """The compose project's name."""

    @abc.abstractmethod
    def _up(self) -> None:
        """`compose up`: start what is stopped, recreate what is missing, as at start."""

    @property
    def startup_timeout(self) -> float:
        """Deprecated (goes in 2.0): `stack_timeout`."""
        message = "Stack.startup_timeout is deprecated and goes in 2.0: use stack_timeout"
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return self.stack_timeout

    @property
    def engine_info(self) -> EngineInfo:
        """Which engine runs the stack (Docker or Podman, and its version)."""
        return engine_info(self.engine)

    def container(self, service: str) -> Container | None:
        """The service's container, or None when it doesn't exist."""
        labels = [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}"]
        found = list_containers(self.engine, {"label": labels})
        return found[0] if found else None

    def state(self, service: str) -> ContainerState:
        """The container's status, exit code and health ("missing" when it doesn't exist)."""
        container = self.container(service)
        if container is None:
            return ContainerState("starting" if self._starting else "missing")
        state = container.attrs["State"]
        # Podman reports {"Status": ""} where Docker leaves `Health` out: no healthcheck either way.
        health = (state.get("Health") or {}).get("Status") or None
        note = ""
        if health == "starting" and state.get("Status") == "running":
            health, note = self._healthchecks.health(container, state)
        exit_code = state.get("ExitCode") if state.get("Status") in {"exited", "dead"} else None
        return ContainerState(state.get("Status", "unknown"), exit_code, health, note)

    def environment(self, service: str) -> dict[str, str]:
        """The environment the service's container was started with."""
        container = self.container(service)
        if container is None:
            raise LookupError(f"{service} has no container in project {self.project}")
        pairs = (item.partition("=") for item in container.attrs["Config"]["Env"] or [])
        return {key: value for key, _, value in pairs}

    def address(self, service: str, port: int | None = None) -> tuple[str, int]:
        """(host, host port) where a container port of the service is published.

        `port` defaults to the declared port, else the service's first published port.
        Looked up once, then cached until `forget_urls()` (a restart may change it).
        """
        key = f"{service}:{port}"
        if key not in self._addresses:
            wanted = port or (self.services[service].port if service in self.services else None)
            front = self.fronts.get(service)
            if front and port not in (None, self.services[service].port):
                front = None  # the proxy publishes the declared port only
            container = self.container(front or service)
            bindings = (container.attrs["NetworkSettings"]["Ports"] if container else None) or {}
            if wanted is None:
                published = next((hosts for hosts in bindings.values() if hosts), None)
            else:
                published = bindings.get(f"{wanted}/tcp")
            if not published:
                what = f"port {wanted}" if wanted else "any port"
                raise LookupError(f"{service} publishes no host port for {what} (is it running?)")
            self._addresses[key] = (self.host, int(published[0]["HostPort"]))
        return self._addresses[key]

    def url(self, service: str, port: int | None = None) -> str:
        """Base URL of a service on its published host port, e.g. http://127.0.0.1:32771."""
        host, host_port = self.address(service, port)
        return f"http://[{host}]:{host_port}" if ":" in host else f"http://{host}:{host_port}"

    def forget_urls(self) -> None:
        """Look ports up again next time: a restarted container may get a new host port."""
        self._addresses.clear()

    def logs(self, service: str, *, since: float | None = None, tail: int | None = None) -> str:
        """The service's log lines (since a `time.time()`, or the last `tail`); a note when there are none."""
        container = self.container(service)
        if container is None:
            return "(no container)"
        options: dict[str, Any] = {"timestamps": False}
        if since is not None:
            options["since"] = since
        try:
            # The tail through _engine/logs.py: Podman's own mangles a line written in two parts.
            output: bytes = (
                log_tail(container, tail, since=since) if tail is not None else container.logs(**options)
            )
            return output.decode(errors="replace")
        except docker.errors.APIError as error:
            return f"(logs unavailable: {error})"

    def _probe(self, service: str, *, fail_on_unhealthy: bool = True) -> Probe:
        """How the harness checks one service: what it polls, and how it reads its container's state."""
        spec = self.services[service]

        def target() -> str:
            if spec.check == "tcp":
                host, port = self.address(service)
                return f"{host}:{port}"
            return self.url(service) + spec.path

        return Probe(service, target, lambda: self.state(service), fail_on_unhealthy, spec.check)

    def wait_until_healthy(
        self,
        *,
        timeout: float,
        reason: str,
        services: Iterable[str] | None = None,
        fail_on_unhealthy: bool = True,
        abort: threading.Event | None = None,
    ) -> list[ProbeResult]:
        """Poll the services' health concurrently; raise with diagnostics if any fails."""
        names = list(services or self.services)
        probes = [self._probe(name, fail_on_unhealthy=fail_on_unhealthy) for name in names]
        began = time.monotonic()
        try:
            results = wait_until_healthy(probes, timeout, abort)
        finally:
            self._waited += time.monotonic() - began
        failures = [self.diagnose(result) for result in results if not result.healthy]
        if failures:
            raise StackStartError(self.project, reason, timeout, failures)
        return results

    def ensure_healthy(self, *, timeout: float, why: str) -> None:
        """Like wait_until_healthy, for after a test: fails naming the service."""
        self.forget_urls()
        try:
            self.wait_until_healthy(timeout=timeout, reason=why, fail_on_unhealthy=False)
        except StackStartError as error:
            raise ServiceUnhealthyError(str(error)) from None

    def repair(self) -> None:
        """Bring back whatever a test stopped, paused or removed, as the stack was started.

        The same compose files, harness override (labels, images, ports) and
        environment (secrets included) as at start, so the repaired services
        are the stack's own and keep accepting what it issued before.
        """
        for service in self.services:
            container = self.container(service)
            if container is not None and container.status == "paused":
                container.unpause()
        self._up()
        self.forget_urls()
        self.wait_until_healthy(timeout=self.stack_timeout, reason="not healthy after repair")

    def diagnose(self, result: ProbeResult) -> ServiceDiagnosis:
        """What was seen of a service whose check failed: URL, last answer, container state, log tail."""
        state = result.state or self.state(result.service)
        return ServiceDiagnosis(
            service=result.service,
            url=result.url,
            last_seen=result.last_seen,
            state=state.status,
            exit_code=state.exit_code,
            health=state.health,
            log_tail=self.logs(result.service, tail=LOG_TAIL_LINES),
        )


class ComposeStack(Stack):
    """The harness's Stack: the compose project it starts and removes, labelled with its owner."""

    def __init__(
        self,
        compose: ProjectCompose,
        engine: docker.DockerClient,
        host: str,
        services: Iterable[ServiceSpec],
        stack_timeout: float,
        owner: Owner | None = None,
    ) -> None:
        super().__init__(engine, host, services, stack_timeout)
        self.compose = compose
        # The owner its resources are labelled with: fixed once, so a host name that
        # changes mid-run (macOS, with the network) can't make its own stack not its own.
        self.owner = owner or Owner.current()
        self._stop_lock = threading.Lock()
        self._stopped = False
        # For the run's summary: each service's time to ready at start.
        self.startup: list[ProbeResult] = []

    @property
    def project(self) -> str:
        return self.compose.project_name

    @property
    def waited(self) -> float:
        """Seconds spent waiting for readiness so far (start, checks after tests, heals)."""
        return self._waited

    def _up(self) -> None:
        self.compose.start()

    def start(self) -> float:
        """Bring the stack up and wait until every service is healthy; returns seconds taken.

        Health polling starts together with `compose up`: each service is probed
        as soon as its container publishes a port, so the first service boots
        while compose is still creating the second.
        """
        started = time.monotonic()
        up_failed = threading.Event()
        self._starting = True
        with ThreadPoolExecutor(max_workers=1) as pool:
            up = pool.submit(self.compose.start)
            up.add_done_callback(lambda done: self._up_finished(done, up_failed))
            try:
                self.startup = self.wait_until_healthy(
                    timeout=self.stack_timeout, reason="failed to start", abort=up_failed
                )
            except StackStartError:
                up.result()  # a failed `compose up` explains more than its consequences
                raise
            except BaseException:
                self.compose.cancel()  # Ctrl-C, SIGTERM: don't wait for compose to finish
                raise
            finally:
                self._starting = False
            up.result()
        return time.monotonic() - started

    def _up_finished(self, done: Future[None], up_failed: threading.Event) -> None:
        # From here on a missing container is lost, not still being created.
        self._starting = False
        if done.exception() is not None:
            up_failed.set()

    def stop(self) -> None:
        """Remove the containers, networks and volumes of the project that carry this stack's owner label.

        Only those: never `compose down --remove-orphans --volumes`, which would
        take whatever shares the project name. When the engine refuses, the
        error is raised and the stack stays to stop (the backstop tries again;
        after exit the next run's sweep removes it). Idempotent and safe from two
        threads at once: a second caller waits for the first to finish (see
        `_cleanup.backstop.start_all_in_background`).
        """
        with self._stop_lock:
            if self._stopped:
                return
            self.compose.cancel()  # a `compose up` still running would recreate what we remove
            remove_project(self.engine, self.project, owner=self.owner.label())
            if getattr(self.compose, "killed_mid_command", False):
                self._settle()
            self._addresses.clear()
            self._stopped = True

    def _settle(self) -> None:
        """Remove what the engine finishes creating for a killed `compose up`, until it is quiet.

        Polls the engine (the only way to see a request completing inside it):
        returns once SETTLE_QUIET seconds passed with nothing of ours found,
        or after SETTLE_LIMIT seconds.
        """
        started = quiet_since = time.monotonic()
        while time.monotonic() - started < SETTLE_LIMIT:
            if remove_project(self.engine, self.project, owner=self.owner.label()):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= SETTLE_QUIET:
                return
            time.sleep(SETTLE_POLL)  # pragma: no mutate (the poll interval of the engine, not a wait for it)

    def hand_to_reaper(self) -> bool:
        """Leave removal to a detached reaper process; False if it could not be started.

        For the end of a session: the user doesn't wait for the removal. Not
        while compose may still run (start-up, repair): use `stop()` there.
        """
        from pytest_microstack._cleanup import reaper

        with self._stop_lock:
            if self._stopped:
                return True
            try:
                reaper.spawn([self.project], self.owner.label())
            except OSError:
                return False
            self._addresses.clear()
            self._stopped = True
            return True

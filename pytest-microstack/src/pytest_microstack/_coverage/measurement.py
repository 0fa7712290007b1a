"""One stack's coverage measurement: its override before start, its checks and its data after."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pytest_microstack._boundaries import BOUNDARIES
from pytest_microstack._coverage import collect, contexts, mount, runtime
from pytest_microstack._coverage.combine import Combined, Destination, combine, warn_unmapped
from pytest_microstack._engine.containers import list_containers
from pytest_microstack._errors import StackCoverageError, StackCoverageWarning

if TYPE_CHECKING:
    from docker.models.containers import Container

    from pytest_microstack._engine.engine import Engine
    from pytest_microstack._settings import ServiceSpec, StackSettings

LOG = logging.getLogger(__name__)
PROJECT_LABEL = "com.docker.compose.project"


class MeasuredStack(Protocol):
    """What measuring reads of a running stack (a `Stack`): its name, engine, services, containers
    and addresses (the context switch port)."""

    @property
    def project(self) -> str: ...

    @property
    def engine(self) -> Any: ...

    @property
    def services(self) -> Mapping[str, ServiceSpec]: ...

    def container(self, service: str) -> Container | None: ...

    def address(self, service: str, port: int | None = None) -> tuple[str, int]: ...


def measured_services(settings: StackSettings, config: Mapping[str, Any]) -> tuple[str, ...]:
    """stack_coverage_services, checked against the compose file; else every service."""
    known = list((config.get("services") or {}).keys())
    if not settings.coverage_services:
        return tuple(known)
    unknown = [name for name in settings.coverage_services if name not in known]
    if unknown:
        raise StackCoverageError(
            f"stack_coverage_services: {', '.join(map(repr, unknown))} not in the compose file "
            f"(its services: {', '.join(known)})"
        )
    return tuple(settings.coverage_services)


class Measurement:
    """Coverage of one stack's services; see `_coverage`."""

    def __init__(
        self,
        settings: StackSettings,
        engine: Engine,
        state: Path,
        config: Mapping[str, Any],
        destination: Destination | None = None,
    ) -> None:
        if settings.teardown.keeps_stack:
            raise StackCoverageError(
                "--stack-coverage can't measure a kept stack (--keep-stack/--reuse-stack): "
                "coverage data is saved when the services stop, and a kept stack doesn't"
            )
        runtime.check_coverage_installed()
        self.settings = settings
        self.engine = engine
        self.services: dict[str, Mapping[str, Any]] = dict(config.get("services") or {})
        self.measured = measured_services(settings, config)
        self.destination = destination or Destination.project_default()
        self.runtime_dir = runtime.build_runtime(state)
        self.data_dirs: dict[str, Path] = {}
        self.not_python: list[str] = []
        self.result: Combined | None = None
        self.switcher: contexts.Switcher | None = None

    def write_override(
        self, workdir: Path, images: Mapping[str, str], labels: Mapping[str, str] | None = None
    ) -> Path:
        """The rcfile, the data folders and the override file in `workdir`; returns the override."""
        folder = workdir / "coverage"
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
        rcfile = folder / "coveragerc"
        rcfile.write_text(mount.rcfile_text(self.destination.run_settings))
        rcfile.chmod(0o644)
        self.data_dirs = {name: mount.make_data_dir(folder / "data" / name) for name in self.measured}
        (folder / "data").chmod(0o755)
        override = folder / "compose.coverage.yaml"
        override.write_text(
            mount.coverage_override(
                self.services,
                self.measured,
                runtime_dir=self.runtime_dir,
                rcfile=rcfile,
                data_dirs=self.data_dirs,
                image_envs={name: self._image_env(name, images) for name in self.measured},
                publish_ip=self.engine.publish_ip,
            )
        )
        return override

    def _image_env(self, service: str, images: Mapping[str, str]) -> list[str]:
        image = images.get(service) or self.services[service].get("image")
        if not image:
            return []
        try:
            return list(self.engine.client.images.get(image).attrs["Config"].get("Env") or [])
        except Exception:  # noqa: BLE001 - no image yet: compose reports that itself
            return []

    @contextmanager
    def measuring(self, stack: MeasuredStack) -> Iterator[None]:
        """Check the running stack, yield, then stop it gracefully and combine its data."""
        self._check_started(stack)
        self.switcher = contexts.Switcher(
            tuple(name for name in self.measured if name not in self.not_python),
            lambda service: stack.address(service, contexts.CONTEXT_PORT),
        )
        BOUNDARIES.opened(self.switcher)
        try:
            yield
        except Exception:
            self.collect(stack)  # what the run measured before the error still counts
            raise
        # Ctrl-C or SIGTERM (BaseException) skip this: the stack is being removed already.
        self.collect(stack)

    def _check_started(self, stack: MeasuredStack) -> None:
        first = next((c for c in map(stack.container, self.measured) if c is not None), None)
        if first is not None:
            service = first.labels.get("com.docker.compose.service", self.measured[0])
            collect.check_engine_sees_mounts(first, service, self.runtime_dir)
        patient = [
            name
            for name in self.measured
            if stack.services.get(name) is None or stack.services[name].check == "running"
        ]
        markers = self._wait_markers(stack, patient)
        self.not_python = collect.check_started(markers, self.settings.coverage_services)
        if self.not_python:
            warnings.warn(
                StackCoverageWarning(
                    f"stack coverage ({stack.project}): no Python process in "
                    f"{', '.join(self.not_python)}: not measured (name the Python services in "
                    "stack_coverage_services to leave the others out)"
                ),
                stacklevel=3,
            )

    def _wait_markers(
        self, stack: MeasuredStack, patient: list[str]
    ) -> dict[str, list[collect.ProcessMarker]]:
        """Each service's start markers (read from the bind-mounted data folders here)."""
        return collect.wait_for_markers(self.data_dirs, patient)

    def _after_stop(self, stack: MeasuredStack) -> None:
        """Bring the saved data to the data folders: nothing to do, they are bind-mounted here."""

    def collect(self, stack: MeasuredStack) -> Combined:
        """Stop every container gracefully (each process saves), then map and write the data."""
        label = {"label": [f"{PROJECT_LABEL}={stack.project}"]}
        containers = list_containers(stack.engine, label, all=False)  # Podman's 500 for one removed too
        if self.switcher is not None:
            BOUNDARIES.closed(self.switcher)  # the stop is outside tests
            self.switcher = None
        collect.stop_gracefully(containers, collect.grace_seconds(self.services))
        self._after_stop(stack)
        raw = {name: collect.data_files(folder) for name, folder in self.data_dirs.items()}
        tag = f"{self.settings.run_id}-{self.settings.worker}"
        self.result = combine(raw, self.destination, tag)
        warn_unmapped(self.result.unmapped, stack.project)
        LOG.info(
            "stack coverage: %d file(s) from %s -> %s",
            len(self.result.reported),
            ", ".join(self.measured),
            self.result.written,
        )
        return self.result

"""--stack-coverage on an engine on another machine: volumes seeded and read through the engine's API.

A remote engine can't bind-mount this machine's folders. Instead the runtime and rcfile
go into a volume of the stack's own (seeded with `put_archive` through a container that
is created, never started), each measured service writes into a data volume of its own,
and the data comes back with `get_archive` from the service's container, running (the
start-up markers) or stopped (the saved data). The volumes carry the stack's owner and
project labels, so the teardown, the reaper and the next run's sweep remove them like
the rest of the stack.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pytest_microstack._coverage import agent, collect, mount, runtime
from pytest_microstack._coverage.collect import ProcessMarker
from pytest_microstack._coverage.contexts import CONTEXT_PORT
from pytest_microstack._coverage.measurement import PROJECT_LABEL, MeasuredStack, Measurement
from pytest_microstack._errors import StackCoverageError

if TYPE_CHECKING:
    from pytest_microstack._engine.engine import Engine

SEED_ROOT = "/microstack-seed"
RUNTIME_KEY = "microstack-coverage"


def measurement_class(engine: Engine) -> type[Measurement]:
    """Measurement for an engine on this machine (bind mounts); RemoteMeasurement for one on another."""
    return Measurement if engine.is_local else RemoteMeasurement


def volume_names(project: str, measured: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The runtime volume's name and each measured service's data volume name."""
    return f"{project}-{RUNTIME_KEY}", {name: f"{project}-{RUNTIME_KEY}-{name}" for name in measured}


def volume_override(
    services: Mapping[str, Mapping[str, Any]],
    measured: Iterable[str],
    *,
    runtime_volume: str,
    data_volumes: Mapping[str, str],
    image_envs: Mapping[str, Iterable[str]],
    publish_ip: str,
) -> str:
    """The override's YAML: the same environment and context port as the bind-mount one, volumes
    instead of folders."""
    entries: dict[str, Any] = {}
    declared: dict[str, Any] = {RUNTIME_KEY: {"external": True, "name": runtime_volume}}
    for name in measured:
        data_key = f"{RUNTIME_KEY}-{name}"
        declared[data_key] = {"external": True, "name": data_volumes[name]}
        entries[name] = {
            "environment": {
                "PYTHONPATH": mount.service_pythonpath(services[name], image_envs.get(name, ())),
                "COVERAGE_PROCESS_START": runtime.RCFILE,
                agent.PORT_ENV: str(CONTEXT_PORT),
                agent.STATE_ENV: f"{runtime.DATA}/context",
            },
            "ports": [f"{publish_ip}::{CONTEXT_PORT}"],
            "volumes": [
                {"type": "volume", "source": RUNTIME_KEY, "target": runtime.MOUNT_ROOT, "read_only": True},
                {"type": "volume", "source": data_key, "target": runtime.DATA},
            ],
        }
    document = {"services": entries, "volumes": declared}
    return mount.HEADER + yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def seed_archive(runtime_dir: Path, rcfile_text: str, data_names: Iterable[str]) -> bytes:
    """A tar for SEED_ROOT: runtime/{lib,coveragerc,data/} and one world-writable data-<name>/ each."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(runtime_dir, arcname="runtime/lib", filter=_owned_by_root)
        rc = rcfile_text.encode()
        archive.addfile(_member("runtime/coveragerc", tarfile.REGTYPE, 0o644, len(rc)), io.BytesIO(rc))
        archive.addfile(_member("runtime/data", tarfile.DIRTYPE, 0o755))  # the data volume's mountpoint
        for name in data_names:
            # Services run as any user: their data folder must be writable by all (as the bind mount's is).
            archive.addfile(_member(f"data-{name}", tarfile.DIRTYPE, 0o777))
    return buffer.getvalue()


def _member(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, int(time.time())
    return info


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def extract_data(chunks: Iterable[bytes], target: Path) -> int:
    """Coverage data files and start markers from a `get_archive` of DATA into `target`; how many.

    Only regular files, by their base name: nothing in the archive can write outside `target`.
    """
    count = 0
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if not member.isfile() or not name.startswith((".coverage.", runtime.PROCESS_MARKER)):
                continue
            source = archive.extractfile(member)
            if source is not None:
                (target / name).write_bytes(source.read())
                count += 1
    return count


class RemoteMeasurement(Measurement):
    """Measurement for an engine on another machine: see the module's docstring."""

    def write_override(
        self, workdir: Path, images: Mapping[str, str], labels: Mapping[str, str] | None = None
    ) -> Path:
        folder = workdir / "coverage"
        folder.mkdir(exist_ok=True)
        self.data_dirs = {name: mount.make_data_dir(folder / "data" / name) for name in self.measured}
        runtime_volume, data_volumes = volume_names(self.settings.project, self.measured)
        volume_labels = {**(labels or {}), PROJECT_LABEL: self.settings.project}
        client = self.engine.client
        for name in (runtime_volume, *data_volumes.values()):
            client.volumes.create(name=name, labels=volume_labels)
        self._seed(images, runtime_volume, data_volumes, volume_labels)
        override = folder / "compose.coverage.yaml"
        override.write_text(
            volume_override(
                self.services,
                self.measured,
                runtime_volume=runtime_volume,
                data_volumes=data_volumes,
                image_envs={name: self._image_env(name, images) for name in self.measured},
                publish_ip=self.engine.publish_ip,
            )
        )
        return override

    def _seed(
        self,
        images: Mapping[str, str],
        runtime_volume: str,
        data_volumes: Mapping[str, str],
        labels: Mapping[str, str],
    ) -> None:
        """Fill the volumes through a created (never started) container of a measured service's image."""
        image = next(
            (
                images.get(name) or self.services[name].get("image")
                for name in self.measured
                if images.get(name) or self.services[name].get("image")
            ),
            None,
        )
        if image is None:
            raise StackCoverageError(
                "--stack-coverage on a remote engine: no measured service names an image"
            )
        mounts = {runtime_volume: {"bind": f"{SEED_ROOT}/runtime", "mode": "rw"}}
        mounts.update(
            {
                volume: {"bind": f"{SEED_ROOT}/data-{name}", "mode": "rw"}
                for name, volume in data_volumes.items()
            }
        )
        seeder = self.engine.client.containers.create(
            image, entrypoint=["true"], command=[], volumes=mounts, labels=dict(labels), network_disabled=True
        )
        try:
            rcfile = mount.rcfile_text(self.destination.run_settings)
            if not seeder.put_archive(SEED_ROOT, seed_archive(self.runtime_dir, rcfile, data_volumes)):
                raise StackCoverageError(
                    f"--stack-coverage: the engine refused the coverage runtime for {image}"
                )
        finally:
            seeder.remove(force=True, v=True)  # with the anonymous volumes of its image (VOLUME)

    def _fetch(self, stack: MeasuredStack, names: Iterable[str]) -> None:
        for name in names:
            container = stack.container(name)
            if container is None:
                continue
            try:
                chunks, _ = container.get_archive(runtime.DATA)
            except Exception:  # noqa: BLE001 - not there (yet): nothing to read
                continue
            extract_data(chunks, self.data_dirs[name])

    def _wait_markers(self, stack: MeasuredStack, patient: list[str]) -> dict[str, list[ProcessMarker]]:
        deadline = time.monotonic() + collect.MARKER_WAIT
        waiting = set(patient)
        while True:
            self._fetch(stack, self.measured)
            markers = {name: collect.read_markers(folder) for name, folder in self.data_dirs.items()}
            if not {name for name in waiting if not markers[name]} or time.monotonic() >= deadline:
                return markers
            time.sleep(0.1)  # polling the containers under the deadline above

    def _after_stop(self, stack: MeasuredStack) -> None:
        self._fetch(stack, self.measured)

"""Which services run Python under coverage, and getting every process's data saved.

Every Python process of a measured service leaves a marker in its data folder
(see `runtime.SITECUSTOMIZE`): coverage started, or why not. After start-up the
markers say which services are Python and whether the mounted coverage runs
there. At the end the containers are stopped gracefully (SIGTERM, then the
service's own grace period) before the stack is removed: removal kills, and a
killed process saves nothing.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_microstack._coverage import runtime
from pytest_microstack._errors import StackCoverageError

DEFAULT_STOP_SECONDS = 10  # Docker's own default grace period
# How long a service checked only for "running" gets to start its first Python process.
MARKER_WAIT = 2.0


@dataclass(frozen=True)
class ProcessMarker:
    """One Python process's report from its sitecustomize."""

    status: str  # started | unsupported | failed
    python: str
    executable: str
    detail: str

    @classmethod
    def parse(cls, text: str) -> ProcessMarker:
        fields = [*text.rstrip("\n").split("\t"), "", "", ""][:4]
        return cls(*fields)


def read_markers(data_dir: Path) -> list[ProcessMarker]:
    found = []
    for path in sorted(data_dir.glob(f"{runtime.PROCESS_MARKER}*")):
        try:
            found.append(ProcessMarker.parse(path.read_text()))
        except OSError:
            continue
    return found


def wait_for_markers(
    data_dirs: Mapping[str, Path], patient: Iterable[str], timeout: float = MARKER_WAIT
) -> dict[str, list[ProcessMarker]]:
    """Each service's markers; services in `patient` get up to `timeout` seconds to show one."""
    deadline = time.monotonic() + timeout
    waiting = set(patient)
    while True:
        markers = {name: read_markers(folder) for name, folder in data_dirs.items()}
        missing = {name for name in waiting if not markers[name]}
        if not missing or time.monotonic() >= deadline:
            return markers
        time.sleep(0.05)  # polling the data folders under the deadline above


def check_started(markers: Mapping[str, list[ProcessMarker]], named: Iterable[str]) -> list[str]:
    """The services with no Python process, after start-up.

    Raises StackCoverageError for a Python that the supplied coverage can't run
    under, for coverage failing to start, and for a service that `named` asks
    for explicitly but that runs no Python.
    """
    named = set(named)
    not_python = sorted(name for name, found in markers.items() if not found)
    errors = []
    for name, found in sorted(markers.items()):
        bad = [marker for marker in found if marker.status != "started"]
        for marker in bad[:1]:
            where = f"Python {marker.python} ({marker.executable})"
            errors.append(f"service {name!r}: coverage did not start under {where}: {marker.detail}")
    explicit = [name for name in not_python if name in named]
    if explicit:
        errors.append(
            f"service {', '.join(map(repr, explicit))}: no Python process started coverage there "
            "(not a Python service, or its Python ignores PYTHONPATH: -E/-I): leave it out of "
            "stack_coverage_services"
        )
    if errors:
        raise StackCoverageError("--stack-coverage: " + "; ".join(errors))
    return not_python


def check_engine_sees_mounts(container: Any, service: str, runtime_dir: Path) -> None:
    """The runtime folder must be what the engine mounted: else the engine is on another machine.

    Read through the engine's API (works with any engine), so a bind mount of a
    path the engine doesn't have fails here by name instead of measuring nothing.
    """
    try:
        chunks, _ = container.get_archive(f"{runtime.LIB}/{runtime.PROBE_FILE}")
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            member = archive.extractfile(runtime.PROBE_FILE)
            seen = member.read().decode() if member is not None else ""
    except Exception as error:  # noqa: BLE001 - any failure means the mount is not ours
        seen = f"<{type(error).__name__}>"
    expected = (runtime_dir / runtime.PROBE_FILE).read_text()
    if seen != expected:
        raise StackCoverageError(
            f"--stack-coverage: service {service!r} does not see this machine's {runtime_dir} "
            f"at {runtime.LIB} (found {seen.strip()!r}): the Docker engine is not on this machine, "
            "and coverage bind-mounts its runtime and data folders. Run with a local engine "
            "(or DOCKER_HOST=tcp://127.0.0.1:PORT to one on this machine)."
        )


def stop_gracefully(containers: Iterable[Any], grace: Mapping[str, int]) -> None:
    """SIGTERM every container at once and wait for each up to its grace period.

    A container still running after it was killed: its processes' data since
    their last save is lost, as for a crash (see the README).
    """

    def stop(container: Any) -> None:
        service = container.labels.get("com.docker.compose.service", "")
        with contextlib.suppress(Exception):  # gone already: nothing left to save
            container.stop(timeout=grace.get(service, DEFAULT_STOP_SECONDS))

    found = list(containers)
    if found:
        with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
            list(pool.map(stop, found))


def grace_seconds(services: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Each service's stop_grace_period in whole seconds (compose config gives e.g. "5s")."""
    result = {}
    for name, spec in services.items():
        raw = spec.get("stop_grace_period")
        if raw:
            result[name] = max(1, round(_seconds(str(raw))))
    return result


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, number = 0.0, ""
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue
        unit = "ms" if text.startswith("ms", index) else char
        total += float(number or 0) * units.get(unit, 1.0)
        number = ""
        index += len(unit)
    return total + (float(number) if number else 0.0)


def data_files(data_dir: Path) -> list[Path]:
    """The coverage data files the processes of one service saved."""
    return sorted(path for path in data_dir.glob(".coverage.*") if path.is_file())

"""At start-up: which services get a proxy, and which of the stack's images runs it.

The proxy needs a `python3` and nothing else. No image is pulled for it: it
runs on one of the stack's own images (or the one `stack_exchanges_image`
names). Whether an image has a python3 is found by running it once, and
remembered by image id in the state folder.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import docker.errors

from pytest_microstack._engine.containers import is_gone
from pytest_microstack._engine.proxy_wiring import Front, add_sidecars, fronts_for
from pytest_microstack._errors import ExchangesWarning
from pytest_microstack._ownership import PROJECT_LABEL, SERVICE_LABEL
from pytest_microstack._settings import ServiceSpec

LOG = logging.getLogger(__name__)
CHECKED = "exchanges-python"  # folder in the state folder: one empty file per image id with a python3
# What the proxy imports: an image whose python3 runs this can run it.
PROBE = "import asyncio, argparse, base64, fnmatch, json, zlib"
PROBE_SERVICE = "microstack-python-probe"  # the probe container's service label: no stack's service


def candidate_images(
    fronts: Sequence[Front], config: Mapping[str, Any], images: Mapping[str, str], chosen: str
) -> list[str]:
    """`chosen` alone when set; else the proxied services' own images, then the stack's others."""
    if chosen:
        return [chosen]
    defined = config.get("services") or {}
    ordered = [front.service for front in fronts] + [name for name in defined if name not in images]
    ordered += [name for name in defined if name not in ordered]
    found: list[str] = []
    for name in ordered:
        image = images.get(name) or (defined.get(name) or {}).get("image")
        if image and image not in found:
            found.append(str(image))
    return found


def probe_labels(labels: Mapping[str, str], project: str) -> dict[str, str]:
    """The probe container's labels: the stack's owner labels, its project, and a service of its own.

    A container inherits its image's labels, and an image compose built carries the
    project and service that built it: without these, one worker's probe of the
    images another worker built looked like that worker's service, just removed
    and unhealthy, and failed its stack's start (first run on a fresh engine, -n 2).
    Its own project's teardown and the sweep still find it.
    """
    return {**labels, PROJECT_LABEL: project, SERVICE_LABEL: PROBE_SERVICE}


def has_python(client: Any, image: str, state: Path, labels: Mapping[str, str]) -> bool:
    """Whether `image` runs a python3 that can run the proxy (run once per image id, then remembered)."""
    try:
        image_id = str(client.images.get(image).id).replace(":", "-")
    except docker.errors.ImageNotFound:
        return False
    mark = state / CHECKED / image_id
    if mark.exists():
        return True
    if not _probe(client, image, labels):
        return False
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()
    return True


def _probe(client: Any, image: str, labels: Mapping[str, str]) -> bool:
    """Run PROBE once in `image`; removed after with its anonymous volumes (the image's VOLUMEs).

    Not `containers.run(remove=True)`: docker-py removes without `v`, which left
    one unlabelled volume per probe of an image with a VOLUME on the engine.
    """
    try:
        container = client.containers.create(
            image,
            entrypoint=["python3", "-c", PROBE],
            command=[],
            network_disabled=True,
            labels=dict(labels),
        )
    except docker.errors.APIError:
        return False
    try:
        container.start()
        return int(container.wait().get("StatusCode", 1)) == 0
    except docker.errors.APIError:
        return False
    finally:
        _remove_with_volumes(container)


def _remove_with_volumes(container: Any) -> None:
    try:
        container.remove(force=True, v=True)
    except docker.errors.APIError as error:
        if not is_gone(error):
            raise


def python_image(candidates: Iterable[str], found: Callable[[str], bool]) -> str | None:
    """The first candidate image with a python3."""
    return next((image for image in candidates if found(image)), None)


def plan_fronts(enabled: bool, services: Sequence[ServiceSpec], config: Mapping[str, Any]) -> list[Front]:
    return fronts_for(services, config) if enabled else []


def sidecars(
    config: Mapping[str, Any],
    fronts: Sequence[Front],
    *,
    image: str | None,
    labels: Mapping[str, str],
    host_ip: str,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The override's extension that wires the proxies in, all run on `image` (none without one)."""

    def extend(override: dict[str, Any]) -> dict[str, Any]:
        if image is None:
            return override
        images = {front.service: image for front in fronts}
        return add_sidecars(override, config, fronts, images=images, labels=labels, host_ip=host_ip)

    return extend


def turned_off(reason: str) -> None:
    """One warning line for the run: recording is off, and why."""
    warnings.warn(ExchangesWarning(f"pytest-microstack: exchanges are not recorded: {reason}"), stacklevel=2)

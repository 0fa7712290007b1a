"""The exchanges' python3 probe leaves nothing on the engine, the anonymous volume of a VOLUME neither."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from pytest_microstack._engine.proxy_startup import PROBE_SERVICE, has_python, probe_labels
from pytest_microstack._ownership import PROJECT_LABEL, SERVICE_LABEL

from .conftest import base_image_line

pytestmark = pytest.mark.integration
BUILDER = "microstack-it-probetest-gw0"


@pytest.fixture
def image_with_a_volume(engine: Any) -> Iterator[str]:
    """A python image with `VOLUME /data`, as the services' image: from the local base, removed after."""
    base = base_image_line().partition("=")[2] or "python:3.11-slim-bookworm"
    tag = f"microstack-probe-test:{uuid.uuid4().hex[:12]}"
    dockerfile = f"FROM {base}\nVOLUME /data\n".encode()
    # As compose labels what it builds: the project and service that built it.
    built_by = {PROJECT_LABEL: BUILDER, SERVICE_LABEL: "user-service"}
    engine.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, pull=False, rm=True, labels=built_by)
    yield tag
    engine.images.remove(tag, force=True)


class _WatchedContainers:
    """The real engine's containers, each created one's labels and volume mounts read while it exists.

    Read from the created container's inspect, not from events: Podman's
    Docker-compatible API sends no volume `mount` events, and its container
    events were once not there yet when read just after (a loaded machine).
    """

    def __init__(self, containers: Any) -> None:
        self._containers = containers
        self.created: list[str] = []
        self.labels: list[dict[str, str]] = []
        self.volumes: list[str] = []

    def create(self, *args: Any, **kwargs: Any) -> Any:
        container = self._containers.create(*args, **kwargs)
        self.created.append(str(container.id))
        container.reload()
        self.labels.append(dict(container.attrs["Config"].get("Labels") or {}))
        mounts = container.attrs.get("Mounts") or []
        self.volumes += [str(mount["Name"]) for mount in mounts if mount.get("Type") == "volume"]
        return container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._containers, name)


class _WatchedEngine:
    """The real engine's client, with its containers watched (everything else passed through)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.containers = _WatchedContainers(engine.containers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def test_the_probe_removes_its_container_and_its_anonymous_volume(
    engine: Any, image_with_a_volume: str, tmp_path: Path
) -> None:
    label = f"microstack.test.probe={uuid.uuid4().hex}"
    watched = _WatchedEngine(engine)

    assert has_python(watched, image_with_a_volume, tmp_path, dict([label.split("=")]))

    assert len(watched.containers.created) == 1, watched.containers.created
    assert len(watched.containers.volumes) == 1, "the image's VOLUME /data was not exercised"
    assert engine.containers.list(all=True, filters={"label": label}) == []
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(watched.containers.created[0])
    with pytest.raises(docker.errors.NotFound):
        engine.volumes.get(watched.containers.volumes[0])


def test_the_probe_is_labelled_as_its_own_stacks_not_as_the_service_that_built_the_image(
    engine: Any, image_with_a_volume: str, tmp_path: Path
) -> None:
    """Another worker's stack looks its services up by these two labels: the probe must not match."""
    project = f"microstack-it-probetest-{uuid.uuid4().hex[:8]}-gw1"
    watched = _WatchedEngine(engine)

    assert has_python(watched, image_with_a_volume, tmp_path, probe_labels({"owner": "x"}, project))

    [labels] = watched.containers.labels
    assert labels[PROJECT_LABEL] == project
    assert labels[SERVICE_LABEL] == PROBE_SERVICE  # not the image's "user-service"
    assert labels["owner"] == "x"

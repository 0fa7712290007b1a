"""The exchanges' python3 probe leaves nothing on the engine, the anonymous volume of a VOLUME neither."""

from __future__ import annotations

import io
import time
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


def test_the_probe_removes_its_container_and_its_anonymous_volume(
    engine: Any, image_with_a_volume: str, tmp_path: Path
) -> None:
    label = f"microstack.test.probe={uuid.uuid4().hex}"
    since = int(time.time()) - 1

    assert has_python(engine, image_with_a_volume, tmp_path, dict([label.split("=")]))

    until = int(time.time()) + 1
    created = engine.events(
        since=since, until=until, decode=True, filters={"type": "container", "label": label}
    )
    probes = {event["Actor"]["ID"] for event in created if event["Action"] == "create"}
    assert len(probes) == 1, probes
    mounts = engine.events(
        since=since, until=until, decode=True, filters={"type": "volume", "event": "mount"}
    )
    volumes = {event["Actor"]["ID"] for event in mounts if _container(event) in probes}
    assert volumes, "the probe mounted no volume: the image's VOLUME /data was not exercised"
    assert engine.containers.list(all=True, filters={"label": label}) == []
    for name in volumes:
        with pytest.raises(docker.errors.NotFound):
            engine.volumes.get(name)


def _container(event: dict[str, Any]) -> str:
    return str(event["Actor"]["Attributes"].get("container", ""))


def test_the_probe_is_labelled_as_its_own_stacks_not_as_the_service_that_built_the_image(
    engine: Any, image_with_a_volume: str, tmp_path: Path
) -> None:
    """Another worker's stack looks its services up by these two labels: the probe must not match."""
    project = f"microstack-it-probetest-{uuid.uuid4().hex[:8]}-gw1"
    since = int(time.time()) - 1

    assert has_python(engine, image_with_a_volume, tmp_path, probe_labels({"owner": "x"}, project))

    filters = {"type": "container", "label": f"{PROJECT_LABEL}={project}"}
    created = engine.events(since=since, until=int(time.time()) + 1, decode=True, filters=filters)
    labels = [event["Actor"]["Attributes"] for event in created if event["Action"] == "create"]
    assert len(labels) == 1, labels
    assert labels[0][SERVICE_LABEL] == PROBE_SERVICE
    assert labels[0]["owner"] == "x"

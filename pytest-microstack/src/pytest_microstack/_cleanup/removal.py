"""Remove the harness's own resources of one compose project through the engine's API.

Only what carries the harness's labels, in a project with the harness's prefix:
a compose project name is a plain label that anyone's resources may carry (a
development stack named `microstack`, a volume a user made by hand), so the
name alone never decides what is removed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

from pytest_microstack._engine.containers import is_gone, list_containers
from pytest_microstack._ownership import (
    HARNESS_LABEL,
    OWNER_LABEL,
    PROJECT_LABEL,
    PROJECT_PREFIX,
    is_harness_project,
)

LOG = logging.getLogger(__name__)
# Docker's words for a volume or network that a container still uses.
_IN_USE = re.compile(r"volume is in use|has active endpoints")


def remove_project(client: Any, project: str, *, owner: str) -> int:
    """Force-remove the resources of `project` labelled as `owner`'s; returns how many were found.

    Containers first, then networks and volumes (neither can go while in use);
    through the API and in parallel, about 0.2 s faster than `docker compose
    down --timeout 0`. Raises ValueError for a project without the harness's
    prefix: nothing of ours is ever there.
    """
    if not is_harness_project(project):
        raise ValueError(f"{project!r} is not a harness project (no {PROJECT_PREFIX!r} prefix): not removed")
    if not owner:
        raise ValueError(f"no owner given for {project!r}; not removing anything")
    label = {"label": [HARNESS_LABEL, f"{PROJECT_LABEL}={project}", f"{OWNER_LABEL}={owner}"]}
    containers = list_containers(client, label)
    networks = client.networks.list(filters=label)
    volumes = client.volumes.list(filters=label)
    remove_resources(containers, networks, volumes)
    return len(containers) + len(networks) + len(volumes)


def remove_resources(
    containers: Iterable[Container], networks: Iterable[Network], volumes: Iterable[Volume]
) -> None:
    """Remove these resources: every container, then networks and volumes, four at a time.

    One at a time once the interpreter is shutting down: the atexit backstop
    (and a teardown a Ctrl-C started on a thread) runs after concurrent.futures
    refuses new work ("cannot schedule new futures after interpreter shutdown"),
    which left a stack interrupted during start-up on the engine.
    """
    groups: list[list[Any]] = [list(containers), [*networks, *volumes]]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for group in groups:
                list(pool.map(_remove, group))
                groups = groups[1:]  # done: not again one at a time
    except RuntimeError as error:
        if "shutdown" not in str(error):
            raise
        for group in groups:
            for resource in group:
                _remove(resource)


def _remove(resource: Any) -> None:
    try:
        if isinstance(resource, Container):
            resource.remove(force=True, v=True)
        elif isinstance(resource, Volume):
            resource.remove(force=True)
        else:
            resource.remove()
    except docker.errors.APIError as error:
        if is_gone(error):
            return  # a concurrent sweeper got there first
        if error.status_code != HTTPStatus.CONFLICT:
            raise
        if "in progress" in str(error):
            return  # "removal ... is already in progress": another sweeper is removing it
        if isinstance(resource, Container) or not _IN_USE.search(str(error)):
            raise
        # A volume or network still used by a container without our labels: not ours to
        # remove, so neither is what it uses. Left for its owner.
        LOG.warning("left %s: in use by a container that is not the harness's (%s)", resource.name, error)

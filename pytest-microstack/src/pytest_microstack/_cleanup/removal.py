"""Remove one compose project's containers, networks and volumes through the engine's API."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

import docker.errors
from docker.models.containers import Container
from docker.models.volumes import Volume

from pytest_microstack._cleanup.ownership import PROJECT_LABEL
from pytest_microstack._engine.containers import is_gone, list_containers


def remove_project(client: Any, project: str) -> None:
    """Force-remove a compose project's containers, then its networks and volumes.

    Through the engine's API and in parallel: about 0.2 s faster than
    `docker compose down --timeout 0`, which works through them one step at a
    time. Nothing needs a graceful stop at the end of a test run.
    """
    label = {"label": f"{PROJECT_LABEL}={project}"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(_remove, list_containers(client, label)))
        list(pool.map(_remove, client.networks.list(filters=label)))
        list(pool.map(_remove, client.volumes.list(filters=label)))


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
        if error.status_code != HTTPStatus.CONFLICT or "in progress" not in str(error):
            raise
        # "removal ... is already in progress": another sweeper is removing it

"""List containers and inspect each, skipping those removed in between, on Docker and Podman alike.

docker-py's `containers.list(ignore_removed=True)` lists, then inspects each
container, and skips one that is gone by then, but only if the engine says 404.
Podman answers 500 "... no such container" for a container it is removing at
that moment. Both mean the same thing here: the container no longer counts.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import docker.errors
from docker.models.containers import Container

GONE_MESSAGE = "no such container"


def is_gone(error: docker.errors.APIError) -> bool:
    """Whether the engine's error says the container no longer exists (Docker's 404, Podman's 500)."""
    if isinstance(error, docker.errors.NotFound):
        return True
    return error.status_code == HTTPStatus.INTERNAL_SERVER_ERROR and GONE_MESSAGE in str(error).lower()


def list_containers(client: Any, filters: dict[str, Any], *, all: bool = True) -> list[Container]:
    """Containers matching `filters`, each inspected; one removed since the listing is left out."""
    found = []
    for sparse in client.containers.list(all=all, filters=filters, sparse=True):
        try:
            found.append(client.containers.get(sparse.id))
        except docker.errors.APIError as error:
            if not is_gone(error):
                raise
    return found

"""The Docker engine the stack runs on, and the host its published ports are reached at."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from testcontainers.core.docker_client import DockerClient

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DOCKER_PY_SSH_HOST = "ssh"  # the host in docker-py's base URL for an ssh:// engine


@dataclass(frozen=True)
class Engine:
    """A docker-py client and the host that reaches the engine's published ports."""

    client: Any
    host: str

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_NAMES

    @property
    def publish_ip(self) -> str:
        """Where ports are published: loopback only, unless the engine is on another machine."""
        return "127.0.0.1" if self.is_local else "0.0.0.0"


def engine_host(client: DockerClient) -> str:
    """Host of the engine's published ports, from DOCKER_HOST (tcp://, ssh://) via Testcontainers."""
    host = str(client.host())
    docker_host = urlsplit(os.environ.get("DOCKER_HOST", ""))
    if host == DOCKER_PY_SSH_HOST and docker_host.scheme == "ssh" and docker_host.hostname:
        # Testcontainers before 4.15 read the host from docker-py's base URL, which for
        # ssh:// is http+docker://ssh: the machine's name is only in DOCKER_HOST.
        host = docker_host.hostname
    return "127.0.0.1" if host == "localhost" else host


def connect() -> Engine:
    """The engine named by the environment (DOCKER_HOST, or the local socket)."""
    client = DockerClient()
    return Engine(client.client, engine_host(client))

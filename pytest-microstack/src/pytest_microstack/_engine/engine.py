"""The Docker engine the stack runs on, and the host its published ports are reached at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testcontainers.core.docker_client import DockerClient

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


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
    return "127.0.0.1" if host == "localhost" else host


def connect() -> Engine:
    """The engine named by the environment (DOCKER_HOST, or the local socket)."""
    client = DockerClient()
    return Engine(client.client, engine_host(client))

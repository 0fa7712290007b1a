"""The Docker engine the stack runs on, and the host its published ports are reached at."""

from __future__ import annotations

import ipaddress
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
        """Published ports are on this machine: a local socket, or a TCP engine on loopback."""
        return is_loopback(self.host)

    @property
    def publish_ip(self) -> str:
        """Where ports are published: loopback only, unless the engine is on another machine."""
        return "127.0.0.1" if self.is_local else "0.0.0.0"


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def engine_host(client: DockerClient) -> str:
    """Host of the engine's published ports, from DOCKER_HOST (tcp://, ssh://) via Testcontainers."""
    host = str(client.host())
    return "127.0.0.1" if host == "localhost" else host


def connect() -> Engine:
    """The engine named by the environment (DOCKER_HOST, or the local socket)."""
    client = DockerClient()
    return Engine(client.client, engine_host(client))

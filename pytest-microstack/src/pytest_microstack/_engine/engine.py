"""The engine the stack runs on (Docker or Podman, which version), and the host its ports are reached at."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from testcontainers.core.docker_client import DockerClient

from pytest_microstack._errors import EngineUnsupportedError

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DOCKER_PY_SSH_HOST = "ssh"  # the host in docker-py's base URL for an ssh:// engine
# The oldest engines the plugin is tested against: Docker Engine 20.10 speaks API 1.41;
# Podman 4 is the first with a Docker-compatible API that compose v2 drives.
MIN_DOCKER_API = (1, 41)
MIN_PODMAN = (4, 0)
PODMAN_COMPONENT = "Podman Engine"


def _numbers(version: str) -> tuple[int, ...]:
    """(4, 3, 1) from "4.3.1" or "4.3.1-dev"; () when it starts with no number."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(part) for part in match.group().split(".")) if match else ()


@dataclass(frozen=True)
class EngineInfo:
    """Which engine answers: its name (Docker or Podman), version and API version."""

    name: str
    version: str
    api_version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version} (API {self.api_version})"

    @property
    def is_podman(self) -> bool:
        return self.name == "Podman"

    def unsupported(self, *, builds: bool = False) -> str | None:
        """Why the plugin can't run on this engine, or None when it can."""
        if self.is_podman:
            if _numbers(self.version)[:2] < MIN_PODMAN:
                return f"Podman {self.version} is too old: the plugin needs Podman 4.0 or newer"
            if builds and os.environ.get("DOCKER_BUILDKIT") != "0":
                return (
                    "Podman has no BuildKit, and the stack builds images: "
                    "set DOCKER_BUILDKIT=0 (compose then uses the engine's own builder)"
                )
        elif _numbers(self.api_version)[:2] < MIN_DOCKER_API:
            return (
                f"Docker API {self.api_version} is too old: the plugin needs API 1.41 "
                "(Docker Engine 20.10) or newer"
            )
        return None


def describe(version: Mapping[str, Any]) -> EngineInfo:
    """EngineInfo from the engine's answer to `GET /version` (docker-py's `client.version()`)."""
    components = {str(c.get("Name")): c for c in version.get("Components") or [] if isinstance(c, Mapping)}
    name = "Podman" if PODMAN_COMPONENT in components else "Docker"
    number = str(components.get(PODMAN_COMPONENT, {}).get("Version") or version.get("Version") or "unknown")
    return EngineInfo(name, number, str(version.get("ApiVersion") or "unknown"))


_INFO: dict[str, EngineInfo] = {}
_INFO_LOCK = threading.Lock()


def engine_info(client: Any) -> EngineInfo:
    """The engine behind a docker-py client: `version()` read once per engine address and process."""
    address = str(getattr(client.api, "base_url", "")) or str(id(client))
    with _INFO_LOCK:
        if address not in _INFO:
            _INFO[address] = describe(client.version())
        return _INFO[address]


def require_supported(client: Any, *, builds: bool) -> EngineInfo:
    """The engine's info; raises EngineUnsupportedError, saying why, where the plugin can't run on it."""
    info = engine_info(client)
    reason = info.unsupported(builds=builds)
    if reason is not None:
        raise EngineUnsupportedError(f"{info}: {reason}")
    return info


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

    @property
    def info(self) -> EngineInfo:
        return engine_info(self.client)


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

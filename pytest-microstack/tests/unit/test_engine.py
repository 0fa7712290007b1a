"""pytest_microstack._engine.engine: which engine, and where its published ports are reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from pytest_microstack._engine import engine as engine_module
from pytest_microstack._engine.engine import Engine, connect, engine_host

from unit.fakes import FakeEngine


@dataclass
class FakeDockerClient:
    """testcontainers' DockerClient: the engine as `.client` and the host its ports are on."""

    client: FakeEngine
    hostname: str = "localhost"

    def host(self) -> str:
        return self.hostname


@pytest.mark.parametrize(
    ("docker_host", "expected"),
    [
        pytest.param("localhost", "127.0.0.1", id="local-socket"),
        pytest.param("127.0.0.1", "127.0.0.1", id="loopback"),
        pytest.param("docker.example", "docker.example", id="remote-engine"),
        pytest.param("10.1.2.3", "10.1.2.3", id="remote-address"),
    ],
)
def test_engine_host(docker_host: str, expected: str) -> None:
    assert engine_host(cast(Any, FakeDockerClient(FakeEngine(), docker_host))) == expected


@pytest.mark.parametrize(
    ("host", "local", "publish_ip"),
    [
        pytest.param("127.0.0.1", True, "127.0.0.1", id="loopback"),
        pytest.param("localhost", True, "127.0.0.1", id="localhost"),
        pytest.param("::1", True, "127.0.0.1", id="ipv6-loopback"),
        pytest.param("docker.example", False, "0.0.0.0", id="remote-name"),
        pytest.param("127.0.0.2", False, "0.0.0.0", id="another-address"),
    ],
)
def test_ports_are_published_on_loopback_only_for_a_local_engine(
    host: str, local: bool, publish_ip: str
) -> None:
    engine = Engine(FakeEngine(), host)
    assert (engine.is_local, engine.publish_ip) == (local, publish_ip)


def test_connect_takes_the_engine_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEngine()
    monkeypatch.setattr(engine_module, "DockerClient", lambda: FakeDockerClient(fake, "docker.example"))

    connected = connect()

    assert connected.client is fake
    assert connected.host == "docker.example"

"""pytest_microstack._engine.engine: the host that published ports are reached at, from DOCKER_HOST.

Testcontainers' DockerClient is built without connecting (no traffic is sent):
its docker-py client is replaced by the base URL docker-py would have made.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from docker.utils import parse_host
from pytest_microstack._engine.engine import Engine, engine_host
from testcontainers.core import config as testcontainers_config_module
from testcontainers.core.docker_client import DockerClient

# docker-py replaces an ssh:// URL by this one, losing the host name.
DOCKER_PY_SSH_BASE_URL = "http+docker://ssh"


@pytest.fixture(autouse=True)
def no_testcontainers_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only DOCKER_HOST decides: no TC_HOST, no ~/.testcontainers.properties of the developer's.

    Early 4.x releases read TC_HOST from the environment at each call; later ones
    read it (and the properties file) once, into `testcontainers_config`.
    """
    monkeypatch.delenv("TC_HOST", raising=False)
    monkeypatch.delenv("TESTCONTAINERS_HOST_OVERRIDE", raising=False)
    config = getattr(testcontainers_config_module, "testcontainers_config", None)
    if config is not None:
        monkeypatch.setattr(config, "tc_host_override", None)
        monkeypatch.setattr(config, "tc_properties", {})


def client_for(monkeypatch: pytest.MonkeyPatch, docker_host: str, base_url: str) -> DockerClient:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    client = DockerClient.__new__(DockerClient)  # no __init__: it would connect
    client.client = cast(Any, SimpleNamespace(api=SimpleNamespace(base_url=base_url)))
    return client


@pytest.mark.parametrize(
    ("docker_host", "base_url", "host"),
    [
        pytest.param("ssh://user@build-host:2222", DOCKER_PY_SSH_BASE_URL, "build-host", id="ssh"),
        pytest.param("tcp://10.1.2.3:2375", parse_host("tcp://10.1.2.3:2375"), "10.1.2.3", id="tcp"),
        pytest.param(
            "tcp://127.0.0.1:23750", parse_host("tcp://127.0.0.1:23750"), "127.0.0.1", id="tcp-loopback"
        ),
        pytest.param(
            "unix:///var/run/docker.sock", parse_host("unix:///var/run/docker.sock"), "127.0.0.1", id="socket"
        ),
    ],
)
def test_engine_host_comes_from_docker_host(
    monkeypatch: pytest.MonkeyPatch, docker_host: str, base_url: str, host: str
) -> None:
    assert engine_host(client_for(monkeypatch, docker_host, base_url)) == host


@pytest.mark.parametrize(
    ("host", "publish_ip"),
    [
        ("127.0.0.1", "127.0.0.1"),  # the local socket, or a TCP engine on loopback
        ("localhost", "127.0.0.1"),
        ("::1", "127.0.0.1"),
        ("10.1.2.3", "0.0.0.0"),  # another machine: its ports must be reachable from here
        ("build-host", "0.0.0.0"),
    ],
)
def test_ports_stay_on_loopback_unless_the_engine_is_on_another_machine(host: str, publish_ip: str) -> None:
    assert Engine(client=None, host=host).publish_ip == publish_ip


class _AnswersHost:
    """A DockerClient stand-in whose host() answers as Testcontainers before 4.15 did for ssh://."""

    def __init__(self, host: str) -> None:
        self._host = host

    def host(self) -> str:
        return self._host


@pytest.mark.parametrize(
    ("docker_host", "answered", "host"),
    [
        pytest.param("ssh://user@build-host:2222", "ssh", "build-host", id="ssh-name-from-docker-host"),
        pytest.param("tcp://ssh:2375", "ssh", "ssh", id="a-tcp-engine-really-named-ssh"),
        pytest.param("ssh://build-host", "build-host", "build-host", id="testcontainers-4.15-answers-itself"),
    ],
)
def test_an_ssh_engine_is_reached_at_the_machine_docker_host_names(
    monkeypatch: pytest.MonkeyPatch, docker_host: str, answered: str, host: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)

    assert engine_host(cast(DockerClient, _AnswersHost(answered))) == host

"""pytest_microstack._engine.engine: which engine, and where its published ports are reached."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, cast

import pytest
from pytest_microstack._engine import engine as engine_module
from pytest_microstack._engine.engine import (
    Engine,
    EngineInfo,
    connect,
    describe,
    engine_host,
    engine_info,
    require_supported,
)
from pytest_microstack._errors import EngineUnsupportedError

from unit.fakes import DOCKER_VERSION, PODMAN_VERSION, FakeEngine


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


# --- which engine, and whether the plugin runs on it --------------------------------------------


def test_docker_and_podman_are_told_apart_by_their_version_answer() -> None:
    assert str(describe(DOCKER_VERSION)) == "Docker 20.10.24+dfsg1 (API 1.41)"
    assert str(describe(PODMAN_VERSION)) == "Podman 4.3.1 (API 1.41)"
    assert describe(PODMAN_VERSION).is_podman
    assert not describe(DOCKER_VERSION).is_podman


def test_an_answer_without_components_is_docker_of_unknown_version() -> None:
    assert describe({}) == EngineInfo("Docker", "unknown", "unknown")


def with_version(base: dict[str, Any], **changes: str) -> EngineInfo:
    answer = copy.deepcopy(base)
    if "podman" in changes:
        answer["Components"][0]["Version"] = changes["podman"]
    if "api" in changes:
        answer["ApiVersion"] = changes["api"]
    return describe(answer)


@pytest.mark.parametrize(
    ("info", "refused"),
    [
        pytest.param(with_version(DOCKER_VERSION, api="1.41"), False, id="docker-api-1.41"),
        pytest.param(with_version(DOCKER_VERSION, api="1.40"), True, id="docker-api-1.40"),
        pytest.param(with_version(DOCKER_VERSION, api="1.47"), False, id="docker-api-1.47"),
        pytest.param(with_version(DOCKER_VERSION, api="unknown"), True, id="docker-api-unreadable"),
        pytest.param(with_version(PODMAN_VERSION, podman="4.0.0"), False, id="podman-4.0.0"),
        pytest.param(with_version(PODMAN_VERSION, podman="3.4.4"), True, id="podman-3.4.4"),
        pytest.param(with_version(PODMAN_VERSION, podman="5.2.0-dev"), False, id="podman-5.2-dev"),
    ],
)
def test_unsupported_versions_are_refused_saying_what_is_needed(info: EngineInfo, refused: bool) -> None:
    reason = info.unsupported()

    assert (reason is not None) is refused
    if reason is not None:
        assert "Docker Engine 20.10" in reason if info.name == "Docker" else "Podman 4.0" in reason


@pytest.mark.parametrize(("buildkit", "refused"), [(None, True), ("1", True), ("0", False)])
def test_podman_building_images_needs_buildkit_off(
    monkeypatch: pytest.MonkeyPatch, buildkit: str | None, refused: bool
) -> None:
    if buildkit is None:
        monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    else:
        monkeypatch.setenv("DOCKER_BUILDKIT", buildkit)
    podman = describe(PODMAN_VERSION)

    assert (podman.unsupported(builds=True) is not None) is refused
    assert podman.unsupported(builds=False) is None, "nothing to build: BuildKit doesn't matter"
    assert describe(DOCKER_VERSION).unsupported(builds=True) is None, "Docker has BuildKit"


def test_the_version_is_read_once_per_engine() -> None:
    engine, other = FakeEngine("podman"), FakeEngine()

    assert engine_info(engine).is_podman
    assert engine_info(engine) == Engine(engine, "127.0.0.1").info
    assert not engine_info(other).is_podman
    assert (engine.version_calls, other.version_calls) == (1, 1)


def test_require_supported_names_the_engine_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    old = FakeEngine("podman")
    old.version_answer["Components"][0]["Version"] = "3.4.4"

    with pytest.raises(
        EngineUnsupportedError, match=r"^Podman 3\.4\.4 \(API 1\.41\): .*Podman 4\.0 or newer"
    ):
        require_supported(old, builds=False)
    with pytest.raises(EngineUnsupportedError, match="DOCKER_BUILDKIT=0"):
        require_supported(FakeEngine("podman"), builds=True)
    assert require_supported(FakeEngine(), builds=True).name == "Docker"

"""_engine.containers: list then inspect, leaving out what was removed in between, on Docker and Podman."""

from __future__ import annotations

import docker.errors
import pytest
import requests
from pytest_microstack._engine.containers import is_gone, list_containers

from unit.fakes import FakeEngine


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status} Server Error", response, explanation)


@pytest.mark.parametrize(
    ("error", "gone"),
    [
        pytest.param(docker.errors.NotFound("No such container: c1"), True, id="docker-404"),
        pytest.param(FakeEngine("podman").gone_error("c1"), True, id="podman-500-no-such-container"),
        pytest.param(api_error(500, "container c1: No Such Container"), True, id="any-case"),
        pytest.param(api_error(500, "runtime error: cannot stat cgroup"), False, id="other-500"),
        pytest.param(api_error(409, "no such container"), False, id="409-is-not-gone"),
        pytest.param(docker.errors.APIError("no such container"), False, id="no-status"),
    ],
)
def test_is_gone(error: docker.errors.APIError, gone: bool) -> None:
    assert is_gone(error) is gone


def test_list_skips_a_container_removed_between_list_and_inspect(either_engine: FakeEngine) -> None:
    kept = either_engine.add_container("p-api-1", project="p", service="api")
    removed = either_engine.add_container("p-db-1", project="p", service="db", status="exited")
    either_engine.removed_while_listing.add(removed)

    found = list_containers(either_engine, {"label": "com.docker.compose.project=p"})

    assert [container.id for container in found] == [kept]
    assert found[0].attrs["State"]["Status"] == "running", "each one inspected, not the list's sparse data"


def test_docker_pys_own_ignore_removed_does_not_cover_podman() -> None:
    """Why the helper exists: docker-py skips a 404 only, and Podman answers 500."""
    podman = FakeEngine("podman")
    podman.removed_while_listing.add(podman.add_container("p-api-1", project="p"))

    with pytest.raises(docker.errors.APIError, match="no such container"):
        podman.containers.list(all=True, ignore_removed=True)


def test_list_raises_what_is_not_a_removal(engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.add_container("p-api-1", project="p")

    def broken_inspect(ident: str) -> None:
        raise api_error(500, "database is locked")

    monkeypatch.setattr(engine.containers, "get", broken_inspect)

    with pytest.raises(docker.errors.APIError):
        list_containers(engine, {})


def test_list_running_only_unless_all(engine: FakeEngine) -> None:
    engine.add_container("up-1")
    engine.add_container("down-1", status="exited")

    assert [c.name for c in list_containers(engine, {}, all=False)] == ["up-1"]
    assert sorted(str(c.name) for c in list_containers(engine, {})) == ["down-1", "up-1"]

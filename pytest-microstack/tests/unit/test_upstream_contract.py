"""What the plugin relies on in Testcontainers: public API only, checked on every version tested.

ProjectCompose takes its command prefix from `DockerCompose.docker_compose_command()`
(the compose binary Testcontainers finds, then one `-f` per file) and runs the
commands itself; `engine.connect` uses `DockerClient().client` and `.host()`.
`nox -s minimums` and `nox -s latest` run these tests against the lowest and
the newest Testcontainers the package allows: an upstream change to any of it
fails here first, before a real run misbehaves.
"""

from __future__ import annotations

import inspect

from pytest_microstack._engine.compose import ProjectCompose
from testcontainers.compose import DockerCompose
from testcontainers.core.docker_client import DockerClient


def test_the_command_prefix_is_the_binary_compose_and_one_f_per_file() -> None:
    upstream = DockerCompose(context=".", compose_file_name=["a.yaml", "b.yaml"])

    assert upstream.docker_compose_command()[1:] == ["compose", "-f", "a.yaml", "-f", "b.yaml"]


def test_project_compose_extends_that_prefix_with_the_project() -> None:
    compose = ProjectCompose(context=".", compose_file_name=["a.yaml"], project_name="p-1")
    prefix = DockerCompose(context=".", compose_file_name=["a.yaml"]).docker_compose_command()

    assert compose.compose_command_property == [*prefix, "--project-name", "p-1"]


def test_project_compose_uses_no_private_member_of_docker_compose() -> None:
    source = inspect.getsource(ProjectCompose)

    assert "DockerCompose._" not in source
    assert "super()" not in source
    assert not issubclass(ProjectCompose, DockerCompose)


def test_the_engine_client_exposes_client_and_host() -> None:
    """engine.connect reads `.client` (docker-py's) and calls `.host()`; no engine here to build one."""
    assert callable(DockerClient.host)
    assert "self.client = " in inspect.getsource(DockerClient.__init__)

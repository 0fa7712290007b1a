"""What ProjectCompose relies on inside Testcontainers' DockerCompose, beyond its public API.

ProjectCompose overrides the private `_run_command` (to add an environment,
its own process session, timeouts and cancel) and extends the cached
`compose_command_property`. These tests fail on an upgrade that changes either,
before a real run would misbehave; the version is pinned in pyproject.toml and
requirements/dev.txt for the same reason.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

from pytest_microstack._engine.compose import ProjectCompose
from testcontainers.compose import DockerCompose

PINNED_SERIES = "4.15."


def test_testcontainers_is_the_series_the_overrides_were_written_against() -> None:
    assert version("testcontainers").startswith(PINNED_SERIES)


def test_run_command_keeps_its_signature() -> None:
    parameters = list(inspect.signature(DockerCompose._run_command).parameters)

    assert parameters == ["self", "cmd", "context"]


def test_every_compose_call_goes_through_run_command() -> None:
    """start, stop, get_config and exec_in_container must not run compose some other way."""
    for method in (
        DockerCompose.start,
        DockerCompose.stop,
        DockerCompose.get_config,
        DockerCompose.exec_in_container,
    ):
        source = inspect.getsource(method)
        assert "self._run_command(" in source, method.__name__
        assert "subprocess" not in source, method.__name__


def test_the_command_prefix_is_still_named_so_and_extended_with_the_project() -> None:
    assert "compose_command_property" in vars(DockerCompose)
    compose = ProjectCompose(context=".", compose_file_name=["a.yaml"], project_name="p-1")

    assert compose.compose_command_property[-2:] == ["--project-name", "p-1"]
    assert compose.compose_command_property[compose.compose_command_property.index("-f") + 1] == "a.yaml"

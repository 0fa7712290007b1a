"""tests.harness.compose: ProjectCompose's command lines, environment and errors."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.harness import compose as compose_module
from tests.harness.compose import ProjectCompose
from tests.harness.errors import ComposeCommandError

FILES = ["compose.yaml", "/tmp/run-1/compose.harness.yaml"]


@dataclass
class FakeRun:
    """Records each subprocess.run call and answers with a canned result."""

    returncode: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    calls: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((list(command), kwargs))
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, self.stderr)

    @property
    def commands(self) -> list[list[str]]:
        return [command for command, _ in self.calls]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> FakeRun:
    fake = FakeRun()
    monkeypatch.setattr(compose_module.subprocess, "run", fake)
    return fake


def make(tmp_path: Path, **kwargs: Any) -> ProjectCompose:
    options: dict[str, Any] = {
        "context": str(tmp_path),
        "compose_file_name": list(FILES),
        "wait": False,
        "project_name": "microstack-it-cafe-gw1",
        "docker_command_path": "docker",
        **kwargs,
    }
    return ProjectCompose(**options)


def test_command_line_has_the_files_and_project_name(tmp_path: Path) -> None:
    command = make(tmp_path).compose_command_property

    assert command[:2] == ["docker", "compose"]
    assert command[2:6] == ["-f", FILES[0], "-f", FILES[1]]
    position = command.index("--project-name")
    assert command[position + 1] == "microstack-it-cafe-gw1"
    assert command.count("--project-name") == 1


def test_no_project_name_flag_without_a_project_name(tmp_path: Path) -> None:
    assert "--project-name" not in make(tmp_path, project_name="").compose_command_property


def test_start_runs_up_detached_under_the_project(tmp_path: Path, run: FakeRun) -> None:
    make(tmp_path).start()

    [command] = run.commands
    assert command[-2:] == ["up", "--detach"]
    assert command[command.index("--project-name") + 1] == "microstack-it-cafe-gw1"
    assert command.index("--project-name") < command.index("up"), "global flags go before the subcommand"


@pytest.mark.parametrize(
    ("keep_volumes", "tail"),
    [
        pytest.param(False, ["down", "--remove-orphans", "--timeout", "0", "--volumes"], id="default"),
        pytest.param(True, ["down", "--remove-orphans", "--timeout", "0"], id="keep-volumes"),
    ],
)
def test_stop_tears_down_at_once(tmp_path: Path, run: FakeRun, keep_volumes: bool, tail: list[str]) -> None:
    compose = make(tmp_path, keep_volumes=keep_volumes)

    compose.stop()

    [command] = run.commands
    assert command == [*compose.compose_command_property, *tail]
    assert "--project-name" in command


def test_stop_without_down_only_stops(tmp_path: Path, run: FakeRun) -> None:
    compose = make(tmp_path)

    compose.stop(down=False)

    assert run.commands == [[*compose.compose_command_property, "stop"]]


def test_build_images_builds_quietly(tmp_path: Path, run: FakeRun) -> None:
    compose = make(tmp_path)

    compose.build_images()

    assert run.commands == [[*compose.compose_command_property, "build", "--quiet"]]


def test_subprocess_gets_the_environment_context_timeout_and_own_session(
    tmp_path: Path, run: FakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_PARENT", "kept")
    monkeypatch.setenv("IMAGE_TAG", "from-parent")
    compose = make(tmp_path, environment={"IMAGE_TAG": "abc123", "USER_SERVICE_SECRET_KEY": "s3cret"})
    compose.command_timeout = 42.0

    compose.start()

    [(_, kwargs)] = run.calls
    env = kwargs["env"]
    assert env["IMAGE_TAG"] == "abc123", "the compose environment wins over the parent's"
    assert env["USER_SERVICE_SECRET_KEY"] == "s3cret"
    assert env["FROM_PARENT"] == "kept"
    assert env["PATH"] == os.environ["PATH"]
    assert kwargs["cwd"] == str(tmp_path)
    assert kwargs["timeout"] == 42.0
    assert kwargs["start_new_session"] is True
    assert kwargs["capture_output"] is True
    assert os.environ["IMAGE_TAG"] == "from-parent", "the parent's environment is not changed"


def test_string_commands_are_split_and_an_explicit_context_is_used(tmp_path: Path, run: FakeRun) -> None:
    compose = make(tmp_path)

    result = compose._run_command("docker compose ps", context="/elsewhere")

    assert result.returncode == 0
    [(command, kwargs)] = run.calls
    assert command == ["docker", "compose", "ps"]
    assert kwargs["cwd"] == "/elsewhere"


def test_a_failing_command_raises_with_command_exit_code_and_output(tmp_path: Path, run: FakeRun) -> None:
    run.returncode = 17
    run.stdout = b"Container x  Creating\n"
    run.stderr = b"Error response from daemon: port is already allocated \xff\n"
    compose = make(tmp_path)

    with pytest.raises(ComposeCommandError) as caught:
        compose.start()

    error = caught.value
    assert error.command == run.commands[0]
    assert error.returncode == 17
    assert error.stdout == "Container x  Creating\n"
    assert error.stderr == "Error response from daemon: port is already allocated \ufffd\n"
    message = str(error)
    assert " ".join(run.commands[0]) in message
    assert "exited with 17" in message
    assert "port is already allocated" in message
    assert "Container x  Creating" in message


def test_a_failing_stop_raises_too(tmp_path: Path, run: FakeRun) -> None:
    run.returncode = 1
    with pytest.raises(ComposeCommandError) as caught:
        make(tmp_path).stop()
    assert "down" in caught.value.command


def test_get_config_parses_compose_json(tmp_path: Path, run: FakeRun) -> None:
    run.stdout = b'{"name": "p", "services": {"api": {"image": "x"}}}'

    config = make(tmp_path).get_config()

    assert config == {"name": "p", "services": {"api": {"image": "x"}}}
    [command] = run.commands
    assert command[command.index("--project-name") + 1] == "microstack-it-cafe-gw1"
    assert command[-3:] == ["config", "--format", "json"]

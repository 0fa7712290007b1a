"""pytest_microstack._engine.compose: ProjectCompose's command lines, environment, errors and cancelling.

No process is started: `subprocess.Popen` (which `subprocess.run` uses too) is
replaced by `FakeProcesses` for every test here.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._errors import ComposeCommandError

from unit.fakes import FakeProcesses

FILES = ["compose.yaml", "/tmp/run-1/compose.harness.yaml"]
PROJECT = "microstack-it-cafe-gw1"


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> FakeProcesses:
    fake = FakeProcesses()
    monkeypatch.setattr(subprocess, "Popen", fake)  # the module pytest_microstack._engine.compose uses
    monkeypatch.setattr(os, "killpg", fake.killpg)
    return fake


def make(tmp_path: Path, **kwargs: Any) -> ProjectCompose:
    options: dict[str, Any] = {
        "context": str(tmp_path),
        "compose_file_name": list(FILES),
        "project_name": PROJECT,
        **kwargs,
    }
    return ProjectCompose(**options)


def answer(returncode: int, stdout: bytes = b"", stderr: bytes = b"") -> Any:
    return lambda args, kwargs: (returncode, stdout, stderr)


def test_command_line_has_the_files_and_project_name(tmp_path: Path) -> None:
    command = make(tmp_path).compose_command_property

    assert command[:2] == ["docker", "compose"]
    assert command[2:6] == ["-f", FILES[0], "-f", FILES[1]]
    position = command.index("--project-name")
    assert command[position + 1] == PROJECT
    assert command.count("--project-name") == 1


def test_no_project_name_flag_without_a_project_name(tmp_path: Path) -> None:
    assert "--project-name" not in make(tmp_path, project_name="").compose_command_property


def test_start_runs_up_detached_under_the_project(tmp_path: Path, processes: FakeProcesses) -> None:
    make(tmp_path).start()

    [command] = processes.commands
    assert command[-2:] == ["up", "--detach"]
    assert command[command.index("--project-name") + 1] == PROJECT
    assert command.index("--project-name") < command.index("up"), "global flags go before the subcommand"


def test_build_images_builds_quietly(tmp_path: Path, processes: FakeProcesses) -> None:
    compose = make(tmp_path)

    compose.build_images()

    assert processes.commands == [[*compose.compose_command_property, "build", "--quiet"]]


def test_the_process_gets_the_environment_context_timeout_and_own_session(
    tmp_path: Path, processes: FakeProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_PARENT", "kept")
    monkeypatch.setenv("IMAGE_TAG", "from-parent")
    compose = make(tmp_path, environment={"IMAGE_TAG": "abc123", "USER_SERVICE_SECRET_KEY": "s3cret"})
    compose.command_timeout = 42.0

    compose.start()

    [call] = processes.calls
    env = call.kwargs["env"]
    assert env["IMAGE_TAG"] == "abc123", "the compose environment wins over the parent's"
    assert env["USER_SERVICE_SECRET_KEY"] == "s3cret"
    assert env["FROM_PARENT"] == "kept"
    assert env["PATH"] == os.environ["PATH"]
    assert call.kwargs["cwd"] == str(tmp_path)
    assert call.kwargs["start_new_session"] is True, "Ctrl-C must reach only the harness"
    assert call.kwargs["stdout"] == call.kwargs["stderr"] == subprocess.PIPE
    assert call.communicate_timeouts == [42.0]
    assert os.environ["IMAGE_TAG"] == "from-parent", "the parent's environment is not changed"


def test_string_commands_are_split_and_an_explicit_context_is_used(
    tmp_path: Path, processes: FakeProcesses
) -> None:
    processes.respond = answer(0, b"out", b"err")

    result = make(tmp_path)._run_command("docker compose ps", context="/elsewhere")

    assert (result.returncode, result.stdout, result.stderr) == (0, b"out", b"err")
    [call] = processes.calls
    assert call.args == ["docker", "compose", "ps"]
    assert call.kwargs["cwd"] == "/elsewhere"


def test_a_failing_command_raises_with_command_exit_code_and_output(
    tmp_path: Path, processes: FakeProcesses
) -> None:
    processes.respond = answer(
        17, b"Container x  Creating\n", b"Error response from daemon: port is already allocated \xff\n"
    )

    with pytest.raises(ComposeCommandError) as caught:
        make(tmp_path).start()

    error = caught.value
    assert error.command == processes.commands[0]
    assert error.returncode == 17
    assert error.stdout == "Container x  Creating\n"
    assert error.stderr == "Error response from daemon: port is already allocated \ufffd\n"
    message = str(error)
    assert " ".join(processes.commands[0]) in message
    assert "exited with 17" in message
    assert "port is already allocated" in message
    assert "Container x  Creating" in message


def test_a_command_over_its_timeout_is_killed(tmp_path: Path, processes: FakeProcesses) -> None:
    processes.hang = True
    compose = make(tmp_path, command_timeout=0.05)

    with pytest.raises(subprocess.TimeoutExpired):
        compose.start()

    [call] = processes.calls
    assert call.killed.is_set(), "a timed-out compose must not be left running"


def test_cancel_kills_a_command_running_in_another_thread(tmp_path: Path, processes: FakeProcesses) -> None:
    processes.hang = True
    compose = make(tmp_path)
    raised: list[BaseException] = []

    def run_up() -> None:
        try:
            compose.start()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            raised.append(error)

    up = threading.Thread(target=run_up, daemon=True)
    up.start()
    try:
        wait_for(lambda: processes.calls, timeout=5, what="compose up to start")
        compose.cancel()
        up.join(timeout=5)
        stopped_by_cancel = not up.is_alive()
    finally:
        for call in processes.calls:
            call.killed.set()  # whatever happened, don't leave the thread behind
        up.join(timeout=5)

    assert stopped_by_cancel, "cancel() did not stop the running command"
    [error] = raised
    assert isinstance(error, ComposeCommandError)
    assert error.command[-2:] == ["up", "--detach"]
    assert compose.killed_mid_command, "the teardown must know requests may still complete in the engine"
    compose.cancel()
    assert compose.killed_mid_command, "a second cancel, with nothing running, doesn't forget it"


def test_cancel_with_nothing_running_does_nothing(tmp_path: Path, processes: FakeProcesses) -> None:
    compose = make(tmp_path)
    compose.build_images()

    compose.cancel()

    assert not processes.calls[0].killed.is_set(), "finished commands are forgotten"
    assert not compose.killed_mid_command


def test_get_config_parses_compose_json(tmp_path: Path, processes: FakeProcesses) -> None:
    processes.respond = answer(0, b'{"name": "p", "services": {"api": {"image": "x"}}}')

    config = make(tmp_path).get_config()

    assert config == {"name": "p", "services": {"api": {"image": "x"}}}
    [command] = processes.commands
    assert command[command.index("--project-name") + 1] == PROJECT
    assert command[-3:] == ["config", "--format", "json"]

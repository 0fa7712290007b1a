"""pytest_microstack._errors: what each harness error says about the service it gave up on."""

from __future__ import annotations

import pytest
from pytest_microstack._errors import (
    TROUBLESHOOTING,
    ComposeCommandError,
    HarnessError,
    ServiceDiagnosis,
    ServiceUnhealthyError,
    StackStartError,
)


@pytest.mark.parametrize(
    ("diagnosis", "container_line"),
    [
        pytest.param(
            ServiceDiagnosis("api", "http://h:1/health", "x"), "  container: unknown", id="nothing-known"
        ),
        pytest.param(
            ServiceDiagnosis("api", "u", "x", state="exited", exit_code=0),
            "  container: exited, exit code 0",
            id="exit-code-zero-shown",
        ),
        pytest.param(
            ServiceDiagnosis("api", "u", "x", state="running", health="unhealthy"),
            "  container: running, docker health unhealthy",
            id="health",
        ),
        pytest.param(
            ServiceDiagnosis("api", "u", "x", state="exited", exit_code=3, health="unhealthy"),
            "  container: exited, exit code 3, docker health unhealthy",
            id="both",
        ),
    ],
)
def test_render_container_line(diagnosis: ServiceDiagnosis, container_line: str) -> None:
    lines = diagnosis.render().splitlines()
    assert lines[0] == f"service 'api' at {diagnosis.url}"
    assert lines[1] == container_line
    assert lines[2] == "  last response or error: x"


@pytest.mark.parametrize(
    ("log_tail", "rendered"),
    [
        pytest.param("", ["    | (no output)"], id="empty"),
        pytest.param("  \n\n", ["    | (no output)"], id="blank"),
        pytest.param("one\ntwo\n", ["    | one", "    | two"], id="lines"),
    ],
)
def test_render_log_tail(log_tail: str, rendered: list[str]) -> None:
    lines = ServiceDiagnosis("api", "u", "x", log_tail=log_tail).render().splitlines()
    assert lines[3] == "  log tail:"
    assert lines[4:] == rendered


def test_stack_start_error_names_project_reason_deadline_and_every_failure() -> None:
    error = StackStartError(
        "p-1",
        "failed to start",
        12.345,
        [ServiceDiagnosis("a", "ua", "HTTP 503"), ServiceDiagnosis("b", "ub", "ConnectionError")],
    )
    text = str(error)
    assert text.splitlines()[0] == (
        f"stack 'p-1': failed to start (health deadline 12.3 s) [docs: {TROUBLESHOOTING}#stackstarterror]"
    )
    assert "service 'a' at ua" in text
    assert "service 'b' at ub" in text
    assert text.index("service 'a'") < text.index("service 'b'")


def test_compose_command_error_keeps_command_and_output() -> None:
    error = ComposeCommandError(["docker", "compose", "up"], 2, " out \n", "\n err ")
    assert (error.command, error.returncode, error.stdout, error.stderr) == (
        ["docker", "compose", "up"],
        2,
        " out \n",
        "\n err ",
    )
    assert str(error) == (
        f"`docker compose up` exited with 2 [docs: {TROUBLESHOOTING}#composecommanderror]\n"
        "--- stderr ---\nerr\n--- stdout ---\nout"
    )


@pytest.mark.parametrize("error_type", [StackStartError, ServiceUnhealthyError, ComposeCommandError])
def test_every_harness_error_is_a_harness_error(error_type: type[Exception]) -> None:
    assert issubclass(error_type, HarnessError)

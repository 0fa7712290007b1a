"""The first errors a new user sees: one line naming cause and fix, once per session (issue 23 §4).

Each case runs a 3-test project against a machine that can't run a stack, in
a pytest subprocess with DOCKER_HOST pointing at a socket made for the test,
and checks the line, that it comes once, and the size of the whole output.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_microstack._engine.preflight import unreachable_reason
from pytest_microstack._errors import TROUBLESHOOTING

from unit.engine_socket import engine_socket
from unit.fakes import DOCKER_VERSION

# A 3-test session's whole output: pytest's header (5 lines), "collected", the
# summary line and ours, plus margin for a wrapped line. Before: 1,666 lines.
MAX_LINES = 15
THREE_STACK_TESTS = """
def test_a(stack): pass
def test_b(service_url): pass
def test_c(stack): pass
"""
# The development tools' plugins cost seconds per subprocess and play no part here.
NO_TOOLS = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:locust")
OLD_DOCKER = {
    "Components": [{"Name": "Engine", "Version": "19.03.15"}],
    "Version": "19.03.15",
    "ApiVersion": "1.40",
}


@pytest.fixture
def sockets() -> Iterator[Path]:
    """A short folder for unix sockets (their paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="ms-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nstack_services =\n    api http 80\n")
    pytester.makefile(".yaml", compose="services:\n  api:\n    image: nginx\n")
    pytester.makepyfile(test_three=THREE_STACK_TESTS)
    return pytester


def _assert_one_line(result: pytest.RunResult, expected: str) -> None:
    output = result.outlines + result.errlines
    text = "\n".join(output)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert len(output) <= MAX_LINES, text
    assert sum(expected in line for line in output) == 1, text
    assert "Traceback" not in text, text
    assert "docker.errors" not in text, text
    assert "no tests ran" in text, text


def test_no_engine_at_a_missing_socket(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockets}/docker.sock")

    result = project.runpytest_subprocess(*NO_TOOLS)

    _assert_one_line(
        result,
        f"pytest-microstack: no Docker engine: unix://{sockets}/docker.sock does not exist; start Docker "
        "(or Podman's Docker-compatible socket), or set DOCKER_HOST to an engine that runs",
    )


def test_no_engine_behind_a_socket_nobody_listens_on(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sockets / "docker.sock"))
    dead.close()  # the file stays: connecting to it is refused
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockets}/docker.sock")

    result = project.runpytest_subprocess(*NO_TOOLS)

    _assert_one_line(
        result,
        f"pytest-microstack: no Docker engine answers at unix://{sockets}/docker.sock (connection refused)",
    )


def test_no_engine_under_xdist_ends_the_run_once_with_the_same_line(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockets}/docker.sock")

    result = project.runpytest_subprocess(*NO_TOOLS, "-n", "2")

    text = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.INTERRUPTED, text  # xdist's Interrupted: the worker stopped the run
    assert len(result.outlines + result.errlines) <= MAX_LINES, text
    line = f"pytest-microstack: no Docker engine: unix://{sockets}/docker.sock does not exist"
    assert text.count(line) == 1, text
    assert "INTERNALERROR" not in text, text
    assert "Traceback" not in text, text


def test_permission_denied_on_the_socket(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket its user may not open (mode 000); root is run without the capabilities that bypass modes."""
    with engine_socket(sockets / "docker.sock", DOCKER_VERSION) as host:
        os.chmod(sockets / "docker.sock", 0)
        monkeypatch.setenv("DOCKER_HOST", host)
        no_bypass = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"] if os.geteuid() == 0 else []
        result = project.run(*no_bypass, sys.executable, "-m", "pytest", *NO_TOOLS)

    _assert_one_line(
        result,
        f"pytest-microstack: permission denied on the Docker socket {sockets}/docker.sock: add your user to "
        "the `docker` group (sudo usermod -aG docker $USER, then log in again), or set DOCKER_HOST to an "
        "engine you may use",
    )


def test_an_engine_older_than_supported(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine_socket(sockets / "docker.sock", OLD_DOCKER) as host:
        monkeypatch.setenv("DOCKER_HOST", host)
        result = project.runpytest_subprocess(*NO_TOOLS)

    _assert_one_line(
        result,
        "pytest-microstack: Docker 19.03.15 (API 1.40): Docker API 1.40 is too old: "
        "the plugin needs API 1.41 (Docker Engine 20.10) or newer; upgrade the engine "
        f"[docs: {TROUBLESHOOTING}#machinenotreadyerror]",
    )


def test_an_engine_as_old_as_supported_passes_the_check(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boundary: API 1.41 passes, and the run goes on to the compose CLI (here: none)."""
    bin_dir = _cli_without_compose(sockets)
    with engine_socket(sockets / "docker.sock", DOCKER_VERSION) as host:
        monkeypatch.setenv("DOCKER_HOST", host)
        monkeypatch.setenv("PATH", str(bin_dir))
        result = project.runpytest_subprocess(*NO_TOOLS)

    text = "\n".join(result.outlines + result.errlines)
    assert "too old" not in text, text
    assert "no Compose v2" in text, text


def _cli_without_compose(folder: Path) -> Path:
    """A `docker` CLI without the compose plugin: it answers `docker compose` as the real one does."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "docker"
    cli.write_text(
        '#!/bin/sh\necho "docker: unknown command: docker $1" >&2\n'
        "echo \"\\nRun 'docker --help' for more information\" >&2\nexit 1\n"
    )
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_no_compose_v2(project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _cli_without_compose(sockets)
    with engine_socket(sockets / "docker.sock", DOCKER_VERSION) as host:
        monkeypatch.setenv("DOCKER_HOST", host)
        monkeypatch.setenv("PATH", str(bin_dir))
        result = project.runpytest_subprocess(*NO_TOOLS)

    _assert_one_line(
        result,
        "pytest-microstack: no Compose v2: `docker compose version` says 'docker: unknown command: docker "
        "compose'; install Docker Compose v2 (the docker-compose-plugin package, "
        "or the docker-compose binary in ~/.docker/cli-plugins/)",
    )


def test_no_docker_cli_at_all(
    project: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sockets / "empty").mkdir()
    with engine_socket(sockets / "docker.sock", DOCKER_VERSION) as host:
        monkeypatch.setenv("DOCKER_HOST", host)
        monkeypatch.setenv("PATH", str(sockets / "empty"))
        result = project.runpytest_subprocess(*NO_TOOLS)

    _assert_one_line(result, "pytest-microstack: the `docker` command is not installed (not on PATH)")


def test_a_run_of_tests_without_the_stack_never_asks_for_the_engine(
    pytester: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nstack_services =\n    api http 80\n")
    pytester.makepyfile(test_plain="def test_plain(): pass\n", test_three=THREE_STACK_TESTS)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockets}/docker.sock")

    result = pytester.runpytest_subprocess(*NO_TOOLS, "-m", "not integration")

    result.assert_outcomes(passed=1, deselected=3)


def test_a_stack_asked_for_at_run_time_ends_the_run_with_the_same_line(
    pytester: pytest.Pytester, sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test names `stack` as an argument, so the check happens when the fixture is first set up."""
    pytester.makeini("[pytest]\nstack_services =\n    api http 80\n")
    pytester.makefile(".yaml", compose="services:\n  api:\n    image: nginx\n")
    pytester.makepyfile(
        test_dynamic="\n".join(f"def test_{n}(request): request.getfixturevalue('stack')" for n in "abc")
    )
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sockets}/docker.sock")

    result = pytester.runpytest_subprocess(*NO_TOOLS)

    _assert_one_line(
        result, f"pytest-microstack: no Docker engine: unix://{sockets}/docker.sock does not exist"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            RuntimeError("fetching the version", ConnectionError("aborted", FileNotFoundError(2, "gone"))),
            "no Docker engine: tcp://h:1 does not exist",
            id="nested-in-args",
        ),
        pytest.param(
            RuntimeError("outer"),
            "no Docker engine answers at tcp://h:1 (outer); start Docker",
            id="no-os-error-at-all",
        ),
        pytest.param(TimeoutError(110, "timed out"), "no Docker engine answers at tcp://h:1 (", id="timeout"),
    ],
)
def test_the_cause_is_read_from_wherever_docker_py_keeps_it(error: BaseException, expected: str) -> None:
    assert unreachable_reason(error, "tcp://h:1").startswith(expected)


def test_the_cause_is_read_from_the_exception_chain() -> None:
    try:
        try:
            raise PermissionError(13, "Permission denied")
        except PermissionError as cause:
            raise RuntimeError("Error while fetching server API version") from cause
    except RuntimeError as error:
        reason = unreachable_reason(error, "unix:///run/docker.sock")

    assert reason.startswith("permission denied on the Docker socket /run/docker.sock: add your user")

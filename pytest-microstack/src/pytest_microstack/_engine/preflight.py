"""Can this machine run a stack at all? The engine and the Compose CLI, checked once per run.

The first run on a new machine most often fails right here: no engine, no
right to its socket, no Compose v2, an engine too old. docker-py reports each
as hundreds of lines of its internals, once per test; this check turns each
into one line that names the cause and the fix (`MachineNotReadyError`).
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from pytest_microstack._engine.engine import Engine, connect, require_supported
from pytest_microstack._errors import EngineUnsupportedError, MachineNotReadyError

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"  # docker-py's, when DOCKER_HOST is unset
COMPOSE_VERSION_TIMEOUT = 30.0
PREFIX = "pytest-microstack: "
START_ENGINE = (
    "start Docker (or Podman's Docker-compatible socket), or set DOCKER_HOST to an engine that runs"
)
INSTALL_COMPOSE = (
    "install Docker Compose v2 (the docker-compose-plugin package, or the docker-compose binary "
    "in ~/.docker/cli-plugins/)"
)


def engine_address() -> str:
    """The engine the run talks to, as the user would name it."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _os_errors(error: BaseException) -> Iterator[OSError]:
    """The OS errors behind docker-py's: in the exception chain and nested in `args` (urllib3's)."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            yield current
        pending += [current.__cause__, current.__context__, *current.args]


def unreachable_reason(error: BaseException, address: str) -> str:
    """One line for an engine that could not be asked its version: why, and what to do."""
    for cause in _os_errors(error):
        if isinstance(cause, PermissionError):
            where = address.removeprefix("unix://")
            return (
                f"permission denied on the Docker socket {where}: add your user to the `docker` group "
                "(sudo usermod -aG docker $USER, then log in again), "
                "or set DOCKER_HOST to an engine you may use"
            )
        if isinstance(cause, FileNotFoundError):
            return f"no Docker engine: {address} does not exist; {START_ENGINE}"
        if isinstance(cause, ConnectionRefusedError):
            return f"no Docker engine answers at {address} (connection refused); {START_ENGINE}"
    last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
    return f"no Docker engine answers at {address} ({last[0][:200]}); {START_ENGINE}"


def check_engine(connector: Callable[[], Engine] = connect) -> Engine:
    """The engine, connected and new enough; raises MachineNotReadyError with one line otherwise."""
    try:
        engine = connector()
        require_supported(engine.client, builds=False)
    except EngineUnsupportedError as error:
        raise MachineNotReadyError(f"{PREFIX}{error}; upgrade the engine") from None
    except Exception as error:  # noqa: BLE001 - docker-py's DockerException, requests' errors, OSError: all mean "not reached"
        raise MachineNotReadyError(PREFIX + unreachable_reason(error, engine_address())) from None
    return engine


def compose_command() -> list[str]:
    """`docker compose` (or `podman compose`): the CLI every compose command of the run starts with."""
    with warnings.catch_warnings():  # see _engine/compose.py: Testcontainers warns while importing
        warnings.filterwarnings("ignore", "The @wait_container_is_ready decorator", DeprecationWarning)
        from testcontainers.compose import DockerCompose

    return list(DockerCompose(context=".").docker_compose_command()[:2])


def check_compose(command: list[str], timeout: float = COMPOSE_VERSION_TIMEOUT) -> None:
    """Raise MachineNotReadyError, with one line, unless `<command> version` answers."""
    shown = " ".join(command)
    try:
        done = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise MachineNotReadyError(
            f"{PREFIX}the `{command[0]}` command is not installed (not on PATH): install the Docker CLI, "
            f"and {INSTALL_COMPOSE.removeprefix('install ')}"
        ) from None
    except subprocess.TimeoutExpired:
        raise MachineNotReadyError(f"{PREFIX}`{shown} version` did not answer in {timeout:.0f} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[:1] or [f"exit code {done.returncode}"]
        raise MachineNotReadyError(
            f"{PREFIX}no Compose v2: `{shown} version` says {said[0]!r}; {INSTALL_COMPOSE}"
        )


def check_machine(
    connector: Callable[[], Engine] = connect, command: Callable[[], list[str]] = compose_command
) -> Engine:
    """The engine, once both it and the Compose CLI answer; the CLI is asked meanwhile (~40 ms)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-check") as pool:
        compose = pool.submit(lambda: check_compose(command()))
        engine = check_engine(connector)
        compose.result()
    return engine

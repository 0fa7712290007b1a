"""Docker Compose commands for one test project, run by a process runner of our own.

Testcontainers' `DockerCompose` gives the command prefix (`docker_compose_command()`:
the compose binary it finds and the `-f` files), through its public API only.
The commands themselves run here, not through its `_run_command`: each with a
project name (two runs from one checkout never collide) and an environment of
its own, in its own process session (a Ctrl-C reaches only the harness, which
then tears down), bounded by a timeout, cancellable from another thread, and a
teardown that doesn't wait for graceful stops. Nothing here depends on
Testcontainers' private methods, so any 4.x release the canary (`nox -s latest`)
passes with will do.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

with warnings.catch_warnings():
    # Testcontainers 4.13 and 4.14 warn while importing their own compose module (it
    # uses their deprecated @wait_container_is_ready): not the user's doing, and an
    # error in every project that runs with filterwarnings = error.
    warnings.filterwarnings("ignore", "The @wait_container_is_ready decorator", DeprecationWarning)
    from testcontainers.compose import DockerCompose

from pytest_microstack._errors import ComposeCancelledError, ComposeCommandError


@dataclass
class ProjectCompose:
    """A compose project with its own name and environment."""

    context: str
    compose_file_name: list[str] = field(default_factory=list)
    project_name: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    command_timeout: float = 600.0
    _running: set[subprocess.Popen[bytes]] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _cancelled: bool = field(default=False, init=False, repr=False)
    _killed_running: bool = field(default=False, init=False, repr=False)

    @cached_property
    def compose_command_property(self) -> list[str]:
        """`docker compose -f FILE... [--project-name NAME]`: every command's prefix."""
        upstream = DockerCompose(context=self.context, compose_file_name=list(self.compose_file_name))
        command = list(upstream.docker_compose_command())
        if self.project_name:
            command += ["--project-name", self.project_name]
        return command

    def start(self) -> None:
        """`up --detach`: the harness waits for readiness itself, each service as soon as it can."""
        self._run_command([*self.compose_command_property, "up", "--detach"])

    def get_config(self) -> dict[str, Any]:
        """The effective configuration, as `compose config --format json` resolves it."""
        output = self._run_command([*self.compose_command_property, "config", "--format", "json"]).stdout
        return cast(dict[str, Any], json.loads(output))

    def _run_command(
        self, cmd: str | list[str], context: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return self._run(cmd if isinstance(cmd, list) else cmd.split(), context)

    def _run(self, command: list[str], context: str | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run one compose command, unless the project was cancelled.

        The check and the start happen under the lock that `cancel` takes: a
        command submitted before a Ctrl-C but not yet started never starts, so
        it can't create what the teardown has already removed.
        """
        with self._lock:
            if self._cancelled:
                raise ComposeCancelledError(command)
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=context or str(self.context),
                env={**os.environ, **self.environment},
                start_new_session=True,
            )
            self._running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=self.command_timeout)
        except BaseException:  # timeout, Ctrl-C: never leave compose running behind us
            _kill_group(process)
            process.communicate()
            raise
        finally:
            with self._lock:
                self._running.discard(process)
        if process.returncode != 0:
            raise ComposeCommandError(
                command, process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")
            )
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def killed_mid_command(self) -> bool:
        """Whether `cancel` killed a command that was running (an `up` cut short by Ctrl-C).

        Its requests already sent still complete in the engine after compose is
        gone: a container or network may appear after the teardown looked.
        """
        return self._killed_running

    def cancel(self) -> None:
        """Kill every compose command still running and refuse new ones (from any thread), e.g. on Ctrl-C.

        The teardown doesn't need compose: it removes the project through the engine's API.
        """
        with self._lock:
            self._cancelled = True
            running = list(self._running)
            self._killed_running = self._killed_running or bool(running)
        for process in running:
            _kill_group(process)

    def build_images(self, services: list[str] | None = None) -> None:
        """Build the given services (all that have `build:` when None)."""
        self._run_command([*self.compose_command_property, "build", "--quiet", *(services or [])])


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the docker CLI and the compose plugin it runs: they share a session."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)

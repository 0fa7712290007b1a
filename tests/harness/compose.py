"""Testcontainers' DockerCompose with what a parallel test run needs.

The upstream class has no project name (two runs from one checkout collide),
passes no environment of its own and stops containers gracefully. This subclass
adds a project name and an environment, runs compose in its own session so a
Ctrl-C reaches only the harness (which then tears down), bounds every command
with a timeout, and tears down without waiting for graceful stops.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from functools import cached_property

from testcontainers.compose import DockerCompose

from .errors import ComposeCommandError


@dataclass
class ProjectCompose(DockerCompose):
    """A compose project with its own name and environment."""

    project_name: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    command_timeout: float = 600.0

    @cached_property
    def compose_command_property(self) -> list[str]:
        command = list(super().compose_command_property)
        if self.project_name:
            command += ["--project-name", self.project_name]
        return command

    def _run_command(
        self, cmd: str | list[str], context: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        command = cmd if isinstance(cmd, list) else cmd.split()
        result = subprocess.run(
            command,
            capture_output=True,
            cwd=context or str(self.context),
            env={**os.environ, **self.environment},
            timeout=self.command_timeout,
            start_new_session=True,
            check=False,
        )
        if result.returncode != 0:
            raise ComposeCommandError(
                command,
                result.returncode,
                result.stdout.decode(errors="replace"),
                result.stderr.decode(errors="replace"),
            )
        return result

    def stop(self, down: bool = True) -> None:
        """Remove containers, networks and volumes at once: nothing needs a graceful stop."""
        if not down:
            super().stop(down=False)
            return
        command = [*self.compose_command_property, "down", "--remove-orphans", "--timeout", "0"]
        if not self.keep_volumes:
            command.append("--volumes")
        self._run_command(command)

    def build_images(self) -> None:
        self._run_command([*self.compose_command_property, "build", "--quiet"])

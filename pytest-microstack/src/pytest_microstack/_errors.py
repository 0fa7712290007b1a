"""Errors the harness raises: each names the service and what was seen."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field


class HarnessError(Exception):
    """Base class for every error the harness raises on purpose."""


@dataclass
class ServiceDiagnosis:
    """What the harness knew about one service when it gave up on it."""

    service: str
    url: str
    last_seen: str
    state: str = "unknown"
    exit_code: int | None = None
    health: str | None = None
    log_tail: str = ""

    def render(self) -> str:
        exit_text = "" if self.exit_code is None else f", exit code {self.exit_code}"
        health_text = "" if not self.health else f", docker health {self.health}"
        lines = [
            f"service {self.service!r} at {self.url}",
            f"  container: {self.state}{exit_text}{health_text}",
            f"  last response or error: {self.last_seen}",
            "  log tail:",
        ]
        tail = self.log_tail.rstrip() or "(no output)"
        lines += [f"    | {line}" for line in tail.splitlines()]
        return "\n".join(lines)


@dataclass
class StackStartError(HarnessError):
    """Services did not become healthy; carries every failing service's diagnosis."""

    project: str
    reason: str
    timeout: float  # the seconds the services were given
    failures: list[ServiceDiagnosis] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"stack {self.project!r}: {self.reason} (health deadline {self.timeout:.1f} s)"
        return "\n".join([head, *(f.render() for f in self.failures)])

    @property
    def deadline(self) -> float:
        """Deprecated (goes in 2.0): `timeout`."""
        message = "StackStartError.deadline is deprecated and goes in 2.0: use timeout"
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return self.timeout


class SettingsError(HarnessError):
    """The stack's declaration (ini options or StackSettings) can't be used; says which part."""


class StackConfigError(HarnessError):
    """The compose files can't be run by the harness; names the service and the key."""

    def __init__(self, service: str, key: str, problem: str) -> None:
        self.service = service
        self.key = key
        super().__init__(f"service {service!r}, key {key!r}: {problem}")


class EngineUnsupportedError(HarnessError):
    """The engine (its kind, version or settings) is one the plugin can't run a stack on; says why."""


class MachineNotReadyError(HarnessError):
    """This machine can't run a stack: no engine, no access to it, no Compose v2, an engine too old.

    Its message is one line that names the cause and the fix: the run ends with it.
    """


class ServiceUnhealthyError(HarnessError):
    """A service did not come back healthy after a test or a fault was healed."""


class ComposeCommandError(HarnessError):
    """A `docker compose` command failed; keeps its command line and output."""

    def __init__(self, command: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"`{' '.join(command)}` exited with {returncode}\n"
            f"--- stderr ---\n{stderr.strip()}\n--- stdout ---\n{stdout.strip()}"
        )


class ComposeCancelledError(HarnessError):
    """A compose command was not started: the project is being torn down (Ctrl-C, SIGTERM)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        super().__init__(f"`{' '.join(command)}` not started: the stack is being torn down")

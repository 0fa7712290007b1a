"""Every error and warning class of the package, in one home (as coverage.py's `exceptions.py`).

Each names the service and what was seen. The public ones are exported by the
package root (`pytest_microstack.__all__`); the others (marked internal) never
reach a user's `except` as themselves: the plugin turns them into a usage error
or a one-line exit. At the package's foundation: every room may import it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

# Every error's cause and fix: a section per class, its anchor the class name in lower case.
TROUBLESHOOTING = "https://microstack-dev.github.io/microstack/troubleshooting/"


def _naming_the_page(error: HarnessError, message: str) -> str:
    """`message` with its troubleshooting entry's address at the end of its first line.

    Another error's message quoted in this one loses its own address: one per message.
    """
    message = re.sub(rf" \[docs: {re.escape(TROUBLESHOOTING)}#[a-z]+\]", "", message)
    head, newline, rest = message.partition("\n")
    return f"{head} [docs: {TROUBLESHOOTING}#{type(error).__name__.lower()}]{newline}{rest}"


class HarnessError(Exception):
    """Base class for every error the harness raises on purpose.

    Every message names its troubleshooting entry (cause and fix), however a
    subclass builds the message: a subclass's own `__str__` is wrapped too.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__str__")
        if own is not None:

            def __str__(self: HarnessError) -> str:
                return _naming_the_page(self, own(self))

            cls.__str__ = __str__  # type: ignore[method-assign]

    def __str__(self) -> str:
        return _naming_the_page(self, super().__str__())


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

    service: str
    key: str

    def __init__(self, service: str, key: str, problem: str) -> None:
        self.service = service
        self.key = key
        super().__init__(f"service {service!r}, key {key!r}: {problem}")


class EngineUnsupportedError(HarnessError):
    """Internal: the engine (its kind, version or settings) can't run a stack; says why."""


class MachineNotReadyError(HarnessError):
    """Internal: this machine can't run a stack: no engine, no access to it, no Compose v2, an engine too old.

    Its message is one line that names the cause and the fix: the run ends with it.
    """


class ServiceUnhealthyError(HarnessError):
    """A service did not come back healthy after a test or a fault was healed."""


class ComposeCommandError(HarnessError):
    """A `docker compose` command failed; keeps its command line and output."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

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
    """Internal: a compose command was not started: the project is being torn down (Ctrl-C, SIGTERM)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        super().__init__(f"`{' '.join(command)}` not started: the stack is being torn down")


class UnsafeStateDirError(HarnessError):
    """Internal: the state folder (or a file in it) belongs to someone else or is open to others."""


class FaultError(HarnessError):
    """A fault could not be applied or undone; names the service and the step."""


class StackCoverageError(HarnessError):
    """--stack-coverage can't measure a service as set up; names the service and why."""


class StackCoverageWarning(UserWarning):
    """Data measured in the containers that can't be reported here (named in the message)."""


class WaitTimeout(AssertionError):
    """The awaited condition did not hold before the deadline.

    An AssertionError, not a HarnessError: a wait failing in a test is a test failure.
    """


class DoubleError(HarnessError):
    """A double could not be set or removed; names the service and what the proxy said."""


class ExchangesWarning(UserWarning):
    """Recording was turned off for this run (no image with a python3 to run the proxy)."""


class ImpactError(HarnessError):
    """Internal: --stack-impact can't read the change (no git, not a repository, or BASE names no
    commit); the plugin turns it into a usage error."""


class EngineLostError(HarnessError):
    """Internal: the pool engine this worker's stack ran on stopped answering mid-run; names the engine."""

"""What a project declares about its stack: compose files, services and how each is checked.

Plain data with no Docker in it, so a conftest can build or change it cheaply
and the plugin can read it from ini options without importing any client.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from pytest_microstack._cleanup.ownership import project_name
from pytest_microstack._errors import SettingsError

Check = Literal["http", "tcp", "docker", "running"]
CHECKS: tuple[str, ...] = get_args(Check)
DEFAULT_HEALTH_PATH = "/health"
DEFAULT_STARTUP_TIMEOUT = 60.0  # seconds; the only place this default is written
# The names `docker compose` looks for, in its order.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


@dataclass(frozen=True)
class ServiceSpec:
    """A service the stack waits for: where it listens and how its readiness is checked.

    check="http": GET `path` on `port` must answer 200.
    check="tcp": `port` must accept a connection (and not close it at once).
    check="docker": the container's own Docker healthcheck must say healthy.
    check="running": the container must be running.
    """

    name: str
    port: int | None = None
    path: str = DEFAULT_HEALTH_PATH
    check: Check = "http"

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise SettingsError(
                f"service {self.name!r}: check {self.check!r} is not one of {', '.join(CHECKS)}"
            )
        if self.check in {"http", "tcp"} and self.port is None:
            raise SettingsError(f"service {self.name!r}: a {self.check} check needs a container port")

    @classmethod
    def parse(cls, line: str) -> ServiceSpec:
        """One `stack_services` line: `NAME [http PORT [PATH] | tcp PORT | docker | running]`."""
        try:
            words = shlex.split(line)
        except ValueError as error:  # e.g. "No closing quotation"
            raise SettingsError(f"stack_services line {line!r}: {error}") from None
        if not words:
            raise SettingsError("stack_services: empty service line")
        name, rest = words[0], words[1:]
        if not rest:
            return cls(name, check="running")
        kind, args = rest[0], rest[1:]
        if kind not in CHECKS:
            raise SettingsError(
                f"stack_services line {line!r}: check {kind!r} is not one of {', '.join(CHECKS)}"
            )
        allowed = {"http": 2, "tcp": 1}.get(kind, 0)
        if len(args) > allowed:
            raise SettingsError(
                f"stack_services line {line!r}: unexpected {' '.join(args[allowed:])!r} after {kind}"
            )
        port: int | None = None
        if kind in {"http", "tcp"}:
            if not args or not args[0].isdigit() or not 0 < int(args[0]) < 65536:
                raise SettingsError(f"stack_services line {line!r}: {kind} needs a container port (1-65535)")
            port = int(args[0])
        path = args[1] if kind == "http" and len(args) > 1 else DEFAULT_HEALTH_PATH
        if not path.startswith("/"):
            raise SettingsError(f"stack_services line {line!r}: the health path must start with /")
        return cls(name, port, path, kind)  # type: ignore[arg-type]  # checked against CHECKS above


def default_compose_files(root: Path) -> tuple[str, ...]:
    """The compose file `docker compose` would pick in `root` (compose.yaml when there is none)."""
    found = next((name for name in COMPOSE_FILE_NAMES if (root / name).is_file()), COMPOSE_FILE_NAMES[0])
    return (found,)


def parse_environment(lines: list[str]) -> dict[str, str]:
    """`KEY=VALUE` lines (the stack_environment ini option) as a dict."""
    environment = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"stack_environment line {line!r}: expected KEY=VALUE")
        environment[key.strip()] = value.strip()
    return environment


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """The one default of `wait_for_teardown`: CI waits (a job's end means a clean engine), others don't."""
    return bool((os.environ if environ is None else environ).get("CI"))


@dataclass
class StackSettings:
    """Everything that decides which stack a run gets."""

    root: Path
    services: tuple[ServiceSpec, ...]
    run_id: str
    worker: str = "main"
    compose_files: tuple[str, ...] = ("compose.yaml",)
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    keep: bool = False
    reuse: bool = False
    environment: dict[str, str] = field(default_factory=dict)
    # Variables given a fresh random value per run (unless `environment` sets them).
    secrets: tuple[str, ...] = ()
    # Drop depends_on so every service starts at once: for stacks whose services
    # need each other per request, not to boot.
    parallel_start: bool = False
    # At the end, wait for the stack's removal (CI: a job's end means a clean
    # engine) instead of handing it to a detached reaper (developers: pytest
    # exits as soon as the results are reported; measured ~0.5 s saved).
    wait_for_teardown: bool = field(default_factory=in_ci)
    # --stack-coverage: measure the services' Python processes inside their
    # containers; `coverage_services` limits it to those (default: every service).
    coverage: bool = False
    coverage_services: tuple[str, ...] = ()
    # Record what the services say to each other through a proxy per service
    # (`_exchanges`); `exchanges_image` runs the proxies (default: the stack's own).
    exchanges: bool = True
    exchanges_image: str = ""

    @property
    def project(self) -> str:
        return project_name(self.run_id, self.worker)

    @property
    def compose_paths(self) -> list[Path]:
        return [self.root / name for name in self.compose_files]

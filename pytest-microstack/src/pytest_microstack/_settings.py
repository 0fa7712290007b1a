"""What a project declares about its stack: compose files, services and how each is checked.

Plain data with no Docker in it, so a conftest can build or change it cheaply
and the plugin can read it from ini options without importing any client.
"""

from __future__ import annotations

import enum
import os
import shlex
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args, overload

from pytest_microstack._errors import SettingsError
from pytest_microstack._ownership import project_name

Check = Literal["http", "tcp", "docker", "running"]
CHECKS: tuple[str, ...] = get_args(Check)
DEFAULT_HEALTH_PATH = "/health"
CI_ENV = "CI"  # set by every CI service: CI runs wait for their teardown
DEFAULT_STACK_TIMEOUT = 60.0  # seconds; the only place this default is written
DEFAULT_ARTIFACTS = ".artifacts"  # under the root; one folder a run
DEFAULT_IMPACT_FILE = ".microstack-impact.json"  # under the root: the recording --stack-impact reads
EXCHANGES_AUTO: Final = "auto"  # StackSettings.exchanges: record only for a run whose tests use `doubles`
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
    """Whether this run is a CI job (`CI` is set): the one input of the default teardown policy."""
    return bool((os.environ if environ is None else environ).get(CI_ENV))


class TeardownPolicy(enum.Enum):
    """What becomes of the run's stack when the run is done with it: one value, decided once.

    REAPER: removed by a detached process; pytest exits as soon as the results
    are reported (developers; the default without `CI`; measured ~0.5 s saved).
    WAIT: removed before the run ends (CI: a job's end means a clean engine).
    KEEP: left running (`--keep-stack`), with how to reach and remove it printed.
    REUSE: attached to a kept stack of this configuration, else started and kept
    (`--reuse-stack`).
    """

    REAPER = "reaper"
    WAIT = "wait"
    KEEP = "keep"
    REUSE = "reuse"

    @property
    def keeps_stack(self) -> bool:
        """Whether the stack outlives the run (KEEP or REUSE)."""
        return self in (TeardownPolicy.KEEP, TeardownPolicy.REUSE)

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> TeardownPolicy:
        """WAIT in CI, REAPER elsewhere."""
        return cls.WAIT if in_ci(environ) else cls.REAPER


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"StackSettings.{old} is deprecated and goes in 2.0: use {new}", DeprecationWarning, stacklevel=3
    )


class _DeprecatedFlag:
    """One of the three deprecated booleans (`keep`, `reuse`, `wait_for_teardown`), read from and
    written to `teardown`: a write means what the same flag means to the constructor (`_from_flags`).
    """

    def __init__(self, policy: TeardownPolicy) -> None:
        self.policy = policy
        self.name = ""
        self.__doc__ = f"Deprecated: `teardown is TeardownPolicy.{policy.name}`."

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _DeprecatedFlag: ...
    @overload
    def __get__(self, instance: StackSettings, owner: type) -> bool: ...
    def __get__(self, instance: StackSettings | None, owner: type) -> _DeprecatedFlag | bool:
        if instance is None:  # the class's attribute: the descriptor itself (help(), docs)
            return self
        _deprecated(self.name, "teardown")
        return instance.teardown is self.policy

    def __set__(self, instance: StackSettings, value: bool) -> None:
        _deprecated(self.name, "teardown")
        flags = _flags_of(instance.teardown) | {self.name: value}
        instance.teardown = _from_flags(**flags)


@dataclass(init=False)
class StackSettings:
    """Everything that decides which stack a run gets, and what becomes of it.

    `read_settings` makes the plugin's from the options; a conftest.py that
    overrides `stack_settings` changes every effect of a setting at once.
    """

    root: Path
    services: tuple[ServiceSpec, ...]
    run_id: str
    worker: str
    compose_files: tuple[str, ...]
    # Seconds for the whole stack to become ready (ini stack_timeout, --stack-timeout).
    stack_timeout: float
    environment: dict[str, str]
    # Variables given a fresh random value per run (unless `environment` sets them).
    secrets: tuple[str, ...]
    # Drop depends_on so every service starts at once: for stacks whose services
    # need each other per request, not to boot.
    parallel_start: bool
    teardown: TeardownPolicy
    # Measure the services' Python processes inside their containers;
    # `coverage_services` limits it to those (default: every service).
    coverage: bool
    coverage_services: tuple[str, ...]
    # Record what the services say to each other through a proxy per service
    # (`_exchanges`): True, False, or "auto" (the default): on for a pytest run whose
    # selected tests use `doubles`, off otherwise (and off for `open_stack` in code).
    # `exchanges_image` runs the proxies (default: the stack's own).
    exchanges: bool | Literal["auto"]
    exchanges_image: str
    # This run's failure reports (default: <root>/.artifacts/<run id>).
    artifacts: Path
    # --stack-impact BASE: run only the tests the change from BASE needs (None: every test).
    impact_base: str | None
    # The recording --stack-coverage saves and --stack-impact reads
    # (default: <root>/.microstack-impact.json).
    impact_file: Path
    # A pool of engines (DOCKER_HOST-style URLs) the run's xdist workers are spread over
    # (`_engine.pool`); empty: the one engine the environment names.
    engines: tuple[str, ...]

    def __init__(
        self,
        root: Path,
        services: tuple[ServiceSpec, ...],
        run_id: str,
        worker: str = "main",
        compose_files: tuple[str, ...] = ("compose.yaml",),
        stack_timeout: float = DEFAULT_STACK_TIMEOUT,
        *,
        environment: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        parallel_start: bool = False,
        teardown: TeardownPolicy | None = None,
        coverage: bool = False,
        coverage_services: tuple[str, ...] = (),
        exchanges: bool | Literal["auto"] = EXCHANGES_AUTO,
        exchanges_image: str = "",
        artifacts: Path | None = None,
        impact_base: str | None = None,
        impact_file: Path | None = None,
        engines: tuple[str, ...] = (),
        startup_timeout: float | None = None,
        keep: bool | None = None,
        reuse: bool | None = None,
        wait_for_teardown: bool | None = None,
    ) -> None:
        """`startup_timeout`, `keep`, `reuse` and `wait_for_teardown` are deprecated spellings (until 2.0)."""
        if startup_timeout is not None:
            _deprecated("startup_timeout", "stack_timeout")
            if stack_timeout != DEFAULT_STACK_TIMEOUT:
                raise SettingsError("StackSettings: give stack_timeout or startup_timeout, not both")
            stack_timeout = startup_timeout
        flags = {"keep": keep, "reuse": reuse, "wait_for_teardown": wait_for_teardown}
        if any(value is not None for value in flags.values()):
            given = ", ".join(name for name, value in flags.items() if value is not None)
            _deprecated(given, "teardown=TeardownPolicy.KEEP, REUSE, WAIT or REAPER")
            if teardown is not None:
                raise SettingsError(f"StackSettings: give teardown or {given}, not both")
            teardown = _from_flags(keep, reuse, wait_for_teardown)
        self.root = root
        self.services = services
        self.run_id = run_id
        self.worker = worker
        self.compose_files = compose_files
        self.stack_timeout = stack_timeout
        self.environment = dict(environment or {})
        self.secrets = secrets
        self.parallel_start = parallel_start
        self.teardown = TeardownPolicy.default() if teardown is None else teardown
        self.coverage = coverage
        self.coverage_services = coverage_services
        self.exchanges = exchanges
        self.exchanges_image = exchanges_image
        self.artifacts = root / DEFAULT_ARTIFACTS / run_id if artifacts is None else artifacts
        self.impact_base = impact_base
        self.impact_file = root / DEFAULT_IMPACT_FILE if impact_file is None else impact_file
        self.engines = engines

    @property
    def project(self) -> str:
        return project_name(self.run_id, self.worker)

    @property
    def compose_paths(self) -> list[Path]:
        return [self.root / name for name in self.compose_files]

    # Deprecated spellings, kept working (with a DeprecationWarning) until 2.0.
    @property
    def startup_timeout(self) -> float:
        """Deprecated: `stack_timeout`."""
        _deprecated("startup_timeout", "stack_timeout")
        return self.stack_timeout

    @startup_timeout.setter
    def startup_timeout(self, value: float) -> None:
        _deprecated("startup_timeout", "stack_timeout")
        self.stack_timeout = value

    # Their docstrings below are for the API reference (mkdocstrings reads the source).
    keep = _DeprecatedFlag(TeardownPolicy.KEEP)
    """Deprecated: `teardown is TeardownPolicy.KEEP`."""
    reuse = _DeprecatedFlag(TeardownPolicy.REUSE)
    """Deprecated: `teardown is TeardownPolicy.REUSE`."""
    wait_for_teardown = _DeprecatedFlag(TeardownPolicy.WAIT)
    """Deprecated: `teardown is TeardownPolicy.WAIT`."""


def _flags_of(policy: TeardownPolicy) -> dict[str, bool | None]:
    """The three deprecated booleans that `_from_flags` reads as `policy` (a kept stack has no wait)."""
    return {
        "keep": policy is TeardownPolicy.KEEP,
        "reuse": policy is TeardownPolicy.REUSE,
        "wait_for_teardown": None if policy.keeps_stack else policy is TeardownPolicy.WAIT,
    }


def _from_flags(keep: bool | None, reuse: bool | None, wait_for_teardown: bool | None) -> TeardownPolicy:
    """The policy the three deprecated booleans meant: reuse, else keep, else wait (default: in CI)."""
    if reuse:
        return TeardownPolicy.REUSE
    if keep:
        return TeardownPolicy.KEEP
    if wait_for_teardown is None:
        return TeardownPolicy.default()
    return TeardownPolicy.WAIT if wait_for_teardown else TeardownPolicy.REAPER

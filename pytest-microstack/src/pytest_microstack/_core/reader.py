"""The one settings reader: pytest's own config, or an ini file read by tools outside pytest.

Both go through `read_settings`, so a setting has one precedence (command line,
then environment, then ini, then default) and one default, whichever reads it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pytest_microstack._errors import SettingsError
from pytest_microstack._settings import (
    DEFAULT_ARTIFACTS,
    DEFAULT_IMPACT_FILE,
    DEFAULT_STACK_TIMEOUT,
    EXCHANGES_AUTO,
    ServiceSpec,
    StackSettings,
    TeardownPolicy,
    default_compose_files,
    in_ci,
    parse_environment,
)

if TYPE_CHECKING:
    import pytest

STACK_TIMEOUT_ENV = "STACK_TIMEOUT"
STACK_ENGINES_ENV = "STACK_ENGINES"
# pytest's own spelling of ini booleans (`_pytest.config._strtobool`).
_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}


class IniSource(Protocol):
    """Where settings come from: typed ini values plus the command-line options."""

    root: Path

    def args(self, name: str) -> list[str]: ...
    def lines(self, name: str) -> list[str]: ...
    def text(self, name: str) -> str: ...
    def flag(self, name: str) -> bool: ...
    def option(self, name: str) -> object: ...


class PytestSource:
    """A running pytest's config: ini values as pytest parsed them, and its options."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = config.rootpath

    def args(self, name: str) -> list[str]:
        return list(self.config.getini(name))

    def lines(self, name: str) -> list[str]:
        return list(self.config.getini(name))

    def text(self, name: str) -> str:
        return str(self.config.getini(name) or "")

    def flag(self, name: str) -> bool:
        return bool(self.config.getini(name))

    def option(self, name: str) -> object:
        return self.config.getoption(name, None)


class IniFileSource:
    """A project's pytest configuration file, found and read as pytest does, each type parsed as pytest does.

    `path` is the file (pytest.ini, pyproject.toml, tox.ini, setup.cfg, ...),
    or a folder to find it from by pytest's rules; the root is the file's folder.
    """

    def __init__(self, path: Path) -> None:
        from pytest_microstack._core.config_file import find_config

        self.root, self.section = find_config(path)

    def text(self, name: str) -> str:
        value = self.section.get(name, "")
        return (" ".join(value) if isinstance(value, list) else value).strip()

    def args(self, name: str) -> list[str]:
        value = self.section.get(name, "")
        return list(value) if isinstance(value, list) else shlex.split(value)

    def lines(self, name: str) -> list[str]:
        value = self.section.get(name, "")
        raw = value if isinstance(value, list) else value.splitlines()
        return [line.strip() for line in raw if line.strip()]

    def flag(self, name: str) -> bool:
        return to_bool(name, self.text(name) or "false")

    def option(self, name: str) -> object:
        return None  # no command line outside pytest


def to_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{name}: {text!r} is not a boolean (use true or false)")


def _seconds(name: str, raw: object) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a number of seconds") from None
    if not value > 0:
        raise SettingsError(f"{name}: {raw!r} must be more than 0 seconds")
    return value


def stack_timeout(source: IniSource, environ: Mapping[str, str]) -> float:
    """--stack-timeout, then $STACK_TIMEOUT, then ini stack_timeout, then the default."""
    option = source.option("stack_timeout")
    if option is not None:
        return _seconds("--stack-timeout", option)
    if environ.get(STACK_TIMEOUT_ENV):
        return _seconds(STACK_TIMEOUT_ENV, environ[STACK_TIMEOUT_ENV])
    if source.text("stack_timeout"):
        return _seconds("stack_timeout", source.text("stack_timeout"))
    return DEFAULT_STACK_TIMEOUT


def stack_engines(source: IniSource, environ: Mapping[str, str]) -> tuple[str, ...]:
    """--stack-engines, then $STACK_ENGINES, then ini stack_engines, then none (the one engine)."""
    from pytest_microstack._engine.pool import parse_engines

    option = source.option("stack_engines")
    if option:
        return parse_engines([str(option)], "--stack-engines")
    if environ.get(STACK_ENGINES_ENV, "").strip():
        return parse_engines([environ[STACK_ENGINES_ENV]], STACK_ENGINES_ENV)
    return parse_engines(source.args("stack_engines"), "stack_engines")


def teardown_policy(source: IniSource, environ: Mapping[str, str]) -> TeardownPolicy:
    """--reuse-stack, then --keep-stack, then the default (WAIT in CI, else REAPER)."""
    if source.option("reuse_stack"):
        if in_ci(environ):
            raise SettingsError("--reuse-stack is refused in CI: every CI run starts a clean stack")
        if (source.option("numprocesses") or 0) not in (0, 1):
            raise SettingsError("--reuse-stack attaches one stack: run it without xdist (-n)")
        return TeardownPolicy.REUSE
    if source.option("keep_stack"):
        return TeardownPolicy.KEEP
    return TeardownPolicy.default(environ)


def artifacts_folder(source: IniSource, run_id: str) -> Path:
    """This run's reports: --stack-artifacts DIR as given, else <rootdir>/<stack_artifacts ini>/<run id>."""
    option = source.option("stack_artifacts")
    if option:
        return Path(str(option)).resolve()
    return source.root / (source.text("stack_artifacts") or DEFAULT_ARTIFACTS) / run_id


def impact_file(source: IniSource) -> Path:
    """--stack-impact-file, else ini stack_impact_file, else the default; relative to the root."""
    given = str(source.option("stack_impact_file") or "") or source.text("stack_impact_file")
    return source.root / (given or DEFAULT_IMPACT_FILE)


def impact_base(source: IniSource) -> str | None:
    """--stack-impact BASE (command line only: a selection is asked for per run, never declared)."""
    given = source.option("stack_impact")
    if given is None:
        return None
    if not str(given).strip():
        raise SettingsError("--stack-impact: give a git commit (BASE), e.g. origin/main")
    return str(given).strip()


def exchanges_choice(source: IniSource) -> bool | Literal["auto"]:
    """--stack-exchanges or --no-stack-exchanges, else ini stack_exchanges: true, false or auto (the default).

    Auto records only for a run whose selected tests use `doubles`: the proxies
    cost more than issue 26's bounds under load (BENCHMARKS.md), so a run pays
    for them only when it asks.
    """
    on, off = source.option("stack_exchanges"), source.option("no_stack_exchanges")
    if on and off:
        raise SettingsError("--stack-exchanges and --no-stack-exchanges: give one of them")
    if on or off:
        return bool(on)
    given = source.text("stack_exchanges").strip().lower()
    if given in ("", EXCHANGES_AUTO):
        return EXCHANGES_AUTO
    if given not in _TRUE | _FALSE:
        raise SettingsError(f"stack_exchanges: {given!r} is not true, false or auto")
    return given in _TRUE


def read_settings(
    source: pytest.Config | Path,
    *,
    run_id: str,
    worker: str = "main",
    environ: Mapping[str, str] | None = None,
) -> StackSettings:
    """The StackSettings a project declares, from pytest's config or from its configuration file.

    The one place an option is read: the plugin reads a run's settings once,
    at start-up, and everything it does follows them (or a conftest's own).
    A Path is the configuration file, or a folder to find it from as pytest
    would (pytest.ini, pyproject.toml, tox.ini or setup.cfg, in pytest's order).

    Raises SettingsError, naming the option, for a value that can't be used.
    """
    ini: IniSource = IniFileSource(source) if isinstance(source, Path) else PytestSource(source)
    env = os.environ if environ is None else environ
    return StackSettings(
        root=ini.root,
        services=tuple(ServiceSpec.parse(line) for line in ini.lines("stack_services")),
        run_id=run_id,
        worker=worker,
        compose_files=tuple(ini.args("stack_compose_files")) or default_compose_files(ini.root),
        stack_timeout=stack_timeout(ini, env),
        environment=parse_environment(ini.lines("stack_environment")),
        secrets=tuple(ini.args("stack_secrets")),
        parallel_start=ini.flag("stack_parallel_start"),
        teardown=teardown_policy(ini, env),
        coverage=bool(ini.option("stack_coverage")) or ini.flag("stack_coverage"),
        coverage_services=tuple(ini.args("stack_coverage_services")),
        artifacts=artifacts_folder(ini, run_id),
        exchanges=exchanges_choice(ini),
        exchanges_image=ini.text("stack_exchanges_image"),
        impact_base=impact_base(ini),
        impact_file=impact_file(ini),
        engines=stack_engines(ini, env),
    )

"""Typed settings from the environment that fail fast, naming the variable at fault."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"configuration error: {name} {problem}")
        self.name = name


@dataclass(frozen=True)
class Setting:
    """One environment variable: how to parse it, its default, what makes it valid."""

    name: str
    parse: Callable[[str], Any] = str
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None


def positive_float(raw: str) -> float:
    """Parse a finite float > 0 (timeouts)."""
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a finite number > 0")
    return value


def non_negative_float(raw: str) -> float:
    """Parse a finite float >= 0 (backoff factors)."""
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a finite number >= 0")
    return value


def non_negative_int(raw: str) -> int:
    """Parse an int >= 0 (retry counts)."""
    value = int(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def positive_int(raw: str) -> int:
    """Parse an int > 0 (TTLs, ports, worker counts)."""
    value = int(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def load_settings(
    settings: Iterable[Setting],
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolve each setting from overrides, then the environment, then its default.

    An empty environment variable counts as unset, as compose passes `FOO=` through.
    Override values are Python values, still checked, so tests hit the same rules.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    resolved: dict[str, Any] = {}
    for setting in settings:
        if setting.name in overrides:
            value = overrides[setting.name]
        elif environ.get(setting.name, ""):
            raw = environ[setting.name]
            try:
                value = setting.parse(raw)
            except ValueError as exc:
                raise ConfigError(setting.name, f"has invalid value {raw!r}: {exc}") from None
        elif setting.default is REQUIRED:
            raise ConfigError(setting.name, "is required but not set")
        else:
            value = setting.default
        if setting.check is not None and value is not None:
            problem = setting.check(value)
            if problem:
                raise ConfigError(setting.name, problem)
        resolved[setting.name] = value
    return resolved

"""Find and read a project's pytest configuration file outside pytest, by pytest's own code.

Tools that run without pytest (`python -m pytest_microstack.prebuild`, benchmarks)
must read the same settings pytest would: from pytest.ini, .pytest.ini,
pyproject.toml (`[tool.pytest.ini_options]`), tox.ini (`[pytest]`) or
setup.cfg (`[tool:pytest]`) (and pytest.toml from pytest 9), whichever pytest
picks. Rather than copy those rules, this calls pytest's `_pytest.config.findpaths`
(`locate_config`, `load_config_dict_from_file`): private API, so every call
is adapted to the signatures pytest 8.0 to 9.x have, and a pytest that changed
them is reported as a SettingsError naming the pytest version.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_microstack._errors import SettingsError

IniValue = str | list[str]


def _findpaths() -> Any:
    from _pytest.config import findpaths

    return findpaths


def _unsupported(error: Exception) -> SettingsError:
    return SettingsError(
        f"pytest {pytest.__version__} reads its configuration files differently from the versions "
        f"pytest-microstack knows ({type(error).__name__}: {error}): name the file, or report this"
    )


def _plain(value: object) -> IniValue:
    """A value as pytest's ini types read it: a string, or a list of strings (TOML arrays)."""
    value = getattr(value, "value", value)  # pytest 9 wraps each in a ConfigValue
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values(found: Mapping[str, object] | None) -> dict[str, IniValue]:
    return {str(name): _plain(value) for name, value in (found or {}).items()}


def locate(start: Path) -> Path | None:
    """The configuration file pytest would use, run in `start` without arguments (None: there is none)."""
    findpaths = _findpaths()
    try:
        parameters = inspect.signature(findpaths.locate_config).parameters
        if len(parameters) == 1:  # pytest 8.0: locate_config(args)
            found = findpaths.locate_config([start])
        else:  # 8.1 and later: locate_config(invocation_dir, args)
            found = findpaths.locate_config(start, [start])
    except (AttributeError, TypeError, ValueError) as error:
        raise _unsupported(error) from None
    except (pytest.UsageError, pytest.fail.Exception) as error:
        raise SettingsError(str(error)) from None
    path = found[1]
    return Path(path) if path is not None else None


def load(path: Path) -> dict[str, IniValue]:
    """The pytest settings in one configuration file, as pytest reads that kind of file.

    A file without a pytest section (a pyproject.toml without
    `[tool.pytest.ini_options]`, say) holds none: {}.
    """
    findpaths = _findpaths()
    try:
        found = findpaths.load_config_dict_from_file(path)
    except (AttributeError, TypeError) as error:
        raise _unsupported(error) from None
    except (pytest.UsageError, pytest.fail.Exception) as error:
        # e.g. "[pytest] section in setup.cfg files is no longer supported, change to [tool:pytest]"
        raise SettingsError(f"{path}: {error}") from None
    return _values(found)


def find_config(path: Path) -> tuple[Path, dict[str, IniValue]]:
    """The project's root and settings: from `path` if it is a file, else from the file pytest finds from it.

    Raises SettingsError when a folder has no configuration file in it or above it.
    """
    if path.is_dir():
        located = locate(path)
        if located is None:
            raise SettingsError(
                f"no pytest configuration file in {path} or above it (pytest.ini, pyproject.toml with "
                "[tool.pytest.ini_options], tox.ini with [pytest], setup.cfg with [tool:pytest])"
            )
        path = located
    return path.parent, load(path)

"""pytest-microstack: a whole Docker Compose stack as pytest fixtures.

Everything in `__all__` is the public API: semantic versioning covers it, and
the README's "API reference" documents it. Every module whose name starts with
an underscore (`_core`, `_engine`, `_cleanup`, `_keep`, `_reports`, `_plugin`, `_coverage`, `_exchanges`)
is internal and may change in any release.

Importing this package is cheap (the pytest plugin loads it into every run):
each public name is imported from its internal module when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_microstack._core.clients import ServiceClient
    from pytest_microstack._core.faults import Fault, FaultError, Faults, exec_in
    from pytest_microstack._core.lifecycle import open_stack, prepare_images
    from pytest_microstack._core.reader import read_settings
    from pytest_microstack._core.settings import ServiceSpec, StackSettings
    from pytest_microstack._core.stack import Stack
    from pytest_microstack._core.waiting import WaitTimeout, wait_for
    from pytest_microstack._coverage.collect import StackCoverageError
    from pytest_microstack._coverage.combine import StackCoverageWarning
    from pytest_microstack._errors import (
        ComposeCommandError,
        HarnessError,
        ServiceUnhealthyError,
        SettingsError,
        StackConfigError,
        StackStartError,
    )
    from pytest_microstack._exchanges.doubles import Double, DoubleError, DoubleRule, Doubles
    from pytest_microstack._exchanges.records import Exchange
    from pytest_microstack._exchanges.startup import ExchangesWarning

__version__ = "1.0.0"

# Public name -> the internal module that defines it.
_HOMES = {
    "ComposeCommandError": "pytest_microstack._errors",
    "Double": "pytest_microstack._exchanges.doubles",
    "DoubleError": "pytest_microstack._exchanges.doubles",
    "DoubleRule": "pytest_microstack._exchanges.doubles",
    "Doubles": "pytest_microstack._exchanges.doubles",
    "Exchange": "pytest_microstack._exchanges.records",
    "ExchangesWarning": "pytest_microstack._exchanges.startup",
    "Fault": "pytest_microstack._core.faults",
    "FaultError": "pytest_microstack._core.faults",
    "Faults": "pytest_microstack._core.faults",
    "HarnessError": "pytest_microstack._errors",
    "ServiceClient": "pytest_microstack._core.clients",
    "ServiceSpec": "pytest_microstack._core.settings",
    "ServiceUnhealthyError": "pytest_microstack._errors",
    "SettingsError": "pytest_microstack._errors",
    "Stack": "pytest_microstack._core.stack",
    "StackConfigError": "pytest_microstack._errors",
    "StackCoverageError": "pytest_microstack._coverage.collect",
    "StackCoverageWarning": "pytest_microstack._coverage.combine",
    "StackSettings": "pytest_microstack._core.settings",
    "StackStartError": "pytest_microstack._errors",
    "WaitTimeout": "pytest_microstack._core.waiting",
    "exec_in": "pytest_microstack._core.faults",
    "open_stack": "pytest_microstack._core.lifecycle",
    "prepare_images": "pytest_microstack._core.lifecycle",
    "read_settings": "pytest_microstack._core.reader",
    "wait_for": "pytest_microstack._core.waiting",
}

__all__ = [
    "ComposeCommandError",
    "Double",
    "DoubleError",
    "DoubleRule",
    "Doubles",
    "Exchange",
    "ExchangesWarning",
    "Fault",
    "FaultError",
    "Faults",
    "HarnessError",
    "ServiceClient",
    "ServiceSpec",
    "ServiceUnhealthyError",
    "SettingsError",
    "Stack",
    "StackConfigError",
    "StackCoverageError",
    "StackCoverageWarning",
    "StackSettings",
    "StackStartError",
    "WaitTimeout",
    "__version__",
    "exec_in",
    "open_stack",
    "prepare_images",
    "read_settings",
    "wait_for",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its home on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pytest_microstack' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

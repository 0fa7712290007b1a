"""pytest-microstack: a whole Docker Compose stack as pytest fixtures.

Everything in `__all__` is the public API: semantic versioning covers it, and
docs/reference/api.md documents it; every type a public signature names is in it too.
Every module whose name starts with an underscore (the rooms `_session`,
`_reports`, `_exchanges`, `_core`, `_coverage`, `_keep`, `_cleanup`, `_engine`, and the
foundation `_settings`, `_ownership`, `_state_dir`, `_errors`) is internal and
may change in any release.

Importing this package is cheap (the pytest plugin loads it into every run):
each public name is imported from its internal module when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_microstack import _aliases

if TYPE_CHECKING:
    from pytest_microstack._core.clients import ServiceClient
    from pytest_microstack._core.faults import Fault, Faults, exec_in
    from pytest_microstack._core.lifecycle import open_stack, prepare_images
    from pytest_microstack._core.reader import read_settings
    from pytest_microstack._core.readiness import ContainerState, ProbeResult
    from pytest_microstack._core.stack import Stack
    from pytest_microstack._core.waiting import wait_for
    from pytest_microstack._engine.engine import EngineInfo
    from pytest_microstack._engine.images import ImagePlan
    from pytest_microstack._errors import (
        ComposeCommandError,
        DoubleError,
        ExchangesWarning,
        FaultError,
        HarnessError,
        ServiceDiagnosis,
        ServiceUnhealthyError,
        SettingsError,
        StackConfigError,
        StackCoverageError,
        StackCoverageWarning,
        StackStartError,
        WaitTimeout,
    )
    from pytest_microstack._exchanges.doubles import Double, DoubleRule, Doubles
    from pytest_microstack._exchanges.records import Exchange
    from pytest_microstack._settings import ServiceSpec, StackSettings, TeardownPolicy

__version__ = "1.0.0"

# The 1.0 import paths (pytest_microstack.clients, ...), each warning on import until 2.0.
_aliases.install()

# Public name -> the internal module that defines it.
_HOMES = {
    "ComposeCommandError": "pytest_microstack._errors",
    "ContainerState": "pytest_microstack._core.readiness",
    "EngineInfo": "pytest_microstack._engine.engine",
    "Double": "pytest_microstack._exchanges.doubles",
    "DoubleError": "pytest_microstack._errors",
    "DoubleRule": "pytest_microstack._exchanges.doubles",
    "Doubles": "pytest_microstack._exchanges.doubles",
    "Exchange": "pytest_microstack._exchanges.records",
    "ExchangesWarning": "pytest_microstack._errors",
    "Fault": "pytest_microstack._core.faults",
    "FaultError": "pytest_microstack._errors",
    "Faults": "pytest_microstack._core.faults",
    "HarnessError": "pytest_microstack._errors",
    "ImagePlan": "pytest_microstack._engine.images",
    "ProbeResult": "pytest_microstack._core.readiness",
    "ServiceClient": "pytest_microstack._core.clients",
    "ServiceDiagnosis": "pytest_microstack._errors",
    "ServiceSpec": "pytest_microstack._settings",
    "ServiceUnhealthyError": "pytest_microstack._errors",
    "SettingsError": "pytest_microstack._errors",
    "Stack": "pytest_microstack._core.stack",
    "StackConfigError": "pytest_microstack._errors",
    "StackCoverageError": "pytest_microstack._errors",
    "StackCoverageWarning": "pytest_microstack._errors",
    "StackSettings": "pytest_microstack._settings",
    "StackStartError": "pytest_microstack._errors",
    "TeardownPolicy": "pytest_microstack._settings",
    "WaitTimeout": "pytest_microstack._errors",
    "exec_in": "pytest_microstack._core.faults",
    "open_stack": "pytest_microstack._core.lifecycle",
    "prepare_images": "pytest_microstack._core.lifecycle",
    "read_settings": "pytest_microstack._core.reader",
    "wait_for": "pytest_microstack._core.waiting",
}

__all__ = [
    "ComposeCommandError",
    "ContainerState",
    "Double",
    "DoubleError",
    "DoubleRule",
    "Doubles",
    "EngineInfo",
    "Exchange",
    "ExchangesWarning",
    "Fault",
    "FaultError",
    "Faults",
    "HarnessError",
    "ImagePlan",
    "ProbeResult",
    "ServiceClient",
    "ServiceDiagnosis",
    "ServiceSpec",
    "ServiceUnhealthyError",
    "SettingsError",
    "Stack",
    "StackConfigError",
    "StackCoverageError",
    "StackCoverageWarning",
    "StackSettings",
    "StackStartError",
    "TeardownPolicy",
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

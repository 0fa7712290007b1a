"""The import paths of 1.0 (`pytest_microstack.clients`, ...), kept until 2.0 removes them.

One table and one import finder instead of six modules beside the real ones:
importing an old path builds its module from the table, re-exporting the
package's own objects, and warns (DeprecationWarning) naming what to import
instead. Nothing else imports them, so `import pytest_microstack` and the
pytest plugin never warn.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

PACKAGE = "pytest_microstack"
# Old module -> the public names it re-exports (all of them in `pytest_microstack.__all__`).
ALIASES: dict[str, tuple[str, ...]] = {
    "clients": ("ServiceClient",),
    "errors": (
        "ComposeCommandError",
        "HarnessError",
        "ServiceUnhealthyError",
        "SettingsError",
        "StackConfigError",
        "StackStartError",
    ),
    "faults": ("Fault", "FaultError", "Faults", "exec_in"),
    "settings": ("ServiceSpec", "StackSettings"),
    "stack": ("Stack",),
    "waiting": ("WaitTimeout", "wait_for"),
}


class AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads `pytest_microstack.<old name>` (a meta path finder and its loader)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in ALIASES:
            return None
        return ModuleSpec(fullname, self)

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__.rpartition(".")[2]
        names = ALIASES[name]
        warnings.warn(
            f"{module.__name__} is deprecated and will be removed in 2.0: "
            f"import {', '.join(names)} from {PACKAGE}",
            DeprecationWarning,
            stacklevel=2,  # the importing line (importlib's own frames are skipped)
        )
        public = importlib.import_module(PACKAGE)
        module.__doc__ = f"Deprecated alias of {PACKAGE}'s {', '.join(names)}; removed in 2.0."
        module.__all__ = list(names)  # type: ignore[attr-defined]
        for public_name in names:
            setattr(module, public_name, getattr(public, public_name))


def install() -> None:
    """Make the old paths importable; once, however often the package is reloaded."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(AliasFinder())

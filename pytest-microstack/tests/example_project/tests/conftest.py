"""The example project's own layer: one project-specific fault, through the plugin's hook."""

from collections.abc import Callable
from typing import Any


def wipe_kv(stack: Any, container: Any) -> Callable[[], None]:
    """Restart kv so it forgets everything: its data is only in memory."""
    container.restart(timeout=1)
    return lambda: None


def pytest_microstack_add_faults(faults: Any) -> None:
    faults.register("amnesia", wipe_kv)

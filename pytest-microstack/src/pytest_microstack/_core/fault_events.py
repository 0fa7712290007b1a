"""Who is told of faults applied and healed (the run timeline): no imports, so listening is cheap."""

from __future__ import annotations

import time
from collections.abc import Callable

# (kind, service, "inject" | "heal", time.time())
LISTENERS: list[Callable[[str, str, str, float], None]] = []


def announce(kind: str, service: str, what: str) -> None:
    """Tell every listener; a fault's own work never depends on them."""
    for listener in list(LISTENERS):
        listener(kind, service, what, time.time())

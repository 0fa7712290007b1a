"""A benchmark figure: what was measured (the exact command or code), its samples and their summary."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# Units a figure can have; "yes/no" samples are 1.0 (yes) or 0.0 (no).
SECONDS = "s"
PERCENT_CORE = "% core"
COUNT = "count"
YES_NO = "yes/no"
MILLISECONDS = "ms"
MEGABYTES = "MB"  # 10**6 bytes
PER_SECOND = "req/s"


@dataclass
class Figure:
    """One figure: `key` is stable (ratios and targets refer to it), `command` says what ran."""

    key: str
    title: str
    command: str
    group: str
    unit: str = SECONDS
    note: str = ""
    # The granularity of the measurement where it is coarse enough to matter.
    resolution: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def summary(self) -> dict[str, Any]:
        """The figure as JSON: everything above, plus n, min, median and max."""
        measured = bool(self.samples)
        return {
            **asdict(self),
            "n": len(self.samples),
            "min": min(self.samples) if measured else None,
            "median": self.median if measured else None,
            "max": max(self.samples) if measured else None,
        }


def stopwatch(action: Callable[[], Any]) -> float:
    """Seconds one call of `action` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started

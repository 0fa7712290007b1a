"""Repeat a measurement and summarise it: min, median, max."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One benchmark figure: its samples in seconds (or another unit) and a summary."""

    name: str
    samples: list[float] = field(default_factory=list)
    unit: str = "s"
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def summary(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "min": min(self.samples),
            "median": self.median,
            "max": max(self.samples),
        }

    def row(self) -> str:
        return (
            f"| {self.name} | {min(self.samples):.3f} | {self.median:.3f} | {max(self.samples):.3f} "
            f"| {self.unit} | {len(self.samples)} | {self.note} |"
        )


def stopwatch(action: Callable[[], Any]) -> float:
    """Seconds one call of `action` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started

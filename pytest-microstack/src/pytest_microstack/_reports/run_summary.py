"""What a test run spent on its stacks, for the few lines at the end of pytest's output.

Plain data, no pytest and no Docker: xdist workers send theirs to the
controller as a dict (`to_dict`), which adds them up (`merge`) and prints one
summary for the whole run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any, Protocol


class StartResult(Protocol):
    """The part of a readiness ProbeResult the summary uses."""

    service: str
    elapsed: float


class AppliedFault(Protocol):
    """The part of a faults.Fault the summary uses."""

    inject_seconds: float
    heal_seconds: float | None


@dataclass
class RunSummary:
    """Counts and seconds of one run (or one xdist worker of it)."""

    stacks_started: int = 0
    stacks_reused: int = 0
    start_failures: int = 0
    # service -> seconds from `up` until ready, one entry per start
    startup: dict[str, list[float]] = field(default_factory=dict)
    waiting_seconds: float = 0.0
    faults_injected: int = 0
    faults_healed: int = 0
    inject_seconds: float = 0.0
    heal_seconds: float = 0.0
    reports: list[str] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)  # e.g. "Podman 4.3.1 (API 1.41)", each once

    @property
    def used(self) -> bool:
        """Whether the run did anything worth summarising."""
        return bool(self.stacks_started or self.stacks_reused or self.start_failures or self.reports)

    def record_start(self, results: Iterable[StartResult]) -> None:
        self.stacks_started += 1
        for result in results:
            self.startup.setdefault(result.service, []).append(result.elapsed)

    def record_engine(self, engine: str) -> None:
        if engine not in self.engines:
            self.engines.append(engine)

    def record_faults(self, faults: Iterable[AppliedFault]) -> None:
        for fault in faults:
            self.faults_injected += 1
            self.inject_seconds += fault.inject_seconds
            if fault.heal_seconds is not None:
                self.faults_healed += 1
                self.heal_seconds += fault.heal_seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def merge(self, other: RunSummary) -> None:
        """Add another worker's figures to these."""
        self.stacks_started += other.stacks_started
        self.stacks_reused += other.stacks_reused
        self.start_failures += other.start_failures
        for service, seconds in other.startup.items():
            self.startup.setdefault(service, []).extend(seconds)
        self.waiting_seconds += other.waiting_seconds
        self.faults_injected += other.faults_injected
        self.faults_healed += other.faults_healed
        self.inject_seconds += other.inject_seconds
        self.heal_seconds += other.heal_seconds
        self.reports.extend(other.reports)
        for engine in other.engines:
            self.record_engine(engine)

    def render(self) -> list[str]:
        """The summary's lines; empty when no stack was used."""
        if not self.used:
            return []
        stacks = f"stacks: {self.stacks_started} started"
        if self.stacks_reused:
            stacks += f", {self.stacks_reused} reused"
        if self.start_failures:
            stacks += f", {self.start_failures} failed to start"
        lines = [stacks]
        if self.engines:
            lines.append(f"engine: {', '.join(self.engines)}")
        if self.startup:
            lines.append("start-up, until ready:")
            width = max(len(service) for service in self.startup)
            for service, seconds in self.startup.items():
                mean = sum(seconds) / len(seconds)
                if len(seconds) == 1:
                    lines.append(f"  {service:<{width}}  {mean:.2f} s")
                else:
                    spread = f"{mean:.2f} s mean, {max(seconds):.2f} s max ({len(seconds)} starts)"
                    lines.append(f"  {service:<{width}}  {spread}")
        lines.append(
            f"waiting for readiness: {self.waiting_seconds:.1f} s (start-up, checks after tests, heals)"
        )
        lines.append(
            f"faults: {self.faults_injected} injected in {self.inject_seconds:.1f} s, "
            f"{self.faults_healed} healed in {self.heal_seconds:.1f} s"
        )
        folders = sorted({str(PurePath(path).parent) for path in self.reports})
        if folders:
            lines.append(f"failure reports: {len(self.reports)} in {', '.join(folders)}")
        return lines

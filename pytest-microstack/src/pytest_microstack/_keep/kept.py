"""Stacks left running on purpose (--keep-stack, --reuse-stack): finding, recording, describing.

A kept stack's override and per-run environment (its secrets) are recorded in
the private state folder, so a later run that reuses it, or repairs it, runs
compose exactly as the run that started it did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pytest_microstack._engine.containers import list_containers
from pytest_microstack._ownership import CONFIG_LABEL, KEEP_LABEL, PROJECT_LABEL
from pytest_microstack._state_dir import read_private, write_private


class Reachable(Protocol):
    """What describing a kept stack reads of it (a `Stack`): its name and where its services answer."""

    @property
    def project(self) -> str: ...

    @property
    def services(self) -> Mapping[str, object]: ...

    def url(self, service: str, port: int | None = None) -> str: ...


@dataclass(frozen=True)
class KeptRecord:
    """What is needed to run compose on a kept stack as its starter did."""

    project: str
    override: Path
    environment: dict[str, str]


def record_dir(state: Path, project: str) -> Path:
    folder = state / "kept" / project
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def save_record(state: Path, project: str, override_text: str, environment: dict[str, str]) -> KeptRecord:
    folder = record_dir(state, project)
    override = folder / "compose.harness.yaml"
    write_private(override, override_text.encode())
    write_private(folder / "environment.json", json.dumps(environment).encode())
    return KeptRecord(project, override, environment)


def load_record(state: Path, project: str) -> KeptRecord | None:
    """The record of a kept stack, or None when this user has none (then it can't be reused)."""
    folder = state / "kept" / project
    try:
        environment = json.loads(read_private(folder / "environment.json"))
        read_private(folder / "compose.harness.yaml")
    except (FileNotFoundError, ValueError):
        return None
    return KeptRecord(project, folder / "compose.harness.yaml", environment)


def find_kept_projects(engine: Any, config_hash: str) -> list[str]:
    """Running kept stacks started from the same configuration, in name order."""
    labels = [f"{KEEP_LABEL}=true", f"{CONFIG_LABEL}={config_hash}"]
    running = list_containers(engine, {"label": labels, "status": "running"}, all=False)
    return sorted({str(container.labels[PROJECT_LABEL]) for container in running})


def describe_kept(stack: Reachable) -> str:
    """How to reach and remove a stack left up with --keep-stack."""
    urls = []
    for name in stack.services:
        try:
            urls.append(f"{name} {stack.url(name)}")
        except LookupError:
            urls.append(f"{name} (no published port)")
    return (
        f"stack {stack.project} left running: {', '.join(urls)}\n"
        f"  reuse it: pytest --reuse-stack    remove it: docker compose -p {stack.project} down -v"
    )

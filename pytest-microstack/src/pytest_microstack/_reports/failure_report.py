"""Save what a person needs to understand a failure, after the stack is gone.

A CI job's containers are removed when its run ends; the report keeps, for
every container of the project: its full log and its `docker inspect`, plus the
effective compose configuration (the project's files and the harness override,
as compose resolves them). Secret values are masked in all of it. Each part is
saved on its own: one that can't be had is replaced by a note saying why,
never by an error that hides the test's own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pytest_microstack._engine.containers import list_containers
from pytest_microstack._ownership import PROJECT_LABEL, SERVICE_LABEL
from pytest_microstack._reports.masking import Masker

if TYPE_CHECKING:
    from pytest_microstack._core.stack import ComposeStack

CONFIG_FILE = "compose.effective.yaml"
SUMMARY_FILE = "failure.txt"
CONTAINERS_FILE = "containers.txt"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_NAME = 120


def folder_name(label: str) -> str:
    """A file-system-safe folder name for a test id or label, unique per label."""
    safe = _UNSAFE.sub("_", label).strip("_.") or "report"
    if len(safe) <= MAX_NAME and safe == label:
        return safe
    digest = hashlib.sha256(label.encode()).hexdigest()[:8]
    return f"{safe[:MAX_NAME]}-{digest}"


def _attempt(path: Path, produce: Callable[[], str], masker: Masker) -> None:
    """Write what `produce` returns, or a note saying why it couldn't be had (masked: errors quote values)."""
    try:
        content = produce()
    except Exception as error:  # noqa: BLE001 - a report part must never hide the test's own error
        content = masker.text(f"(unavailable: {type(error).__name__}: {error})\n")
    path.write_text(content)


def _container_name(container: Any, project: str) -> str:
    name = str(container.name)
    return name[len(project) + 1 :] if name.startswith(f"{project}-") else name


def _logs_of(container: Any, masker: Masker) -> Callable[[], str]:
    return lambda: masker.text(container.logs(timestamps=True).decode(errors="replace"))


def _inspect_of(container: Any, masker: Masker) -> Callable[[], str]:
    return lambda: json.dumps(masker.data(container.attrs), indent=2, sort_keys=True) + "\n"


def save_report(stack: ComposeStack, folder: Path, masker: Masker, what_failed: str) -> Path:
    """Write the stack's logs, inspect data and effective config under `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        engine = str(stack.engine_info)
    except Exception as error:  # noqa: BLE001 - a report part must never hide the test's own error
        engine = f"(unknown: {type(error).__name__}: {error})"
    summary = f"project: {stack.project}\nengine: {engine}\n\n{what_failed.rstrip()}\n"
    (folder / SUMMARY_FILE).write_text(masker.text(summary))
    containers: list[Any] = []

    def listed() -> str:
        containers.extend(list_containers(stack.engine, {"label": f"{PROJECT_LABEL}={stack.project}"}))
        rows = sorted(f"{c.labels.get(SERVICE_LABEL, '?')}  {c.name}  {c.status}" for c in containers)
        return "".join(f"{row}\n" for row in rows) or "(no containers)\n"

    _attempt(folder / CONTAINERS_FILE, listed, masker)
    for container in containers:
        name = _container_name(container, stack.project)
        _attempt(folder / f"{name}.log", _logs_of(container, masker), masker)
        _attempt(folder / f"{name}.inspect.json", _inspect_of(container, masker), masker)

    def effective_config() -> str:
        masked = masker.data(stack.compose.get_config())
        return yaml.safe_dump(masked, sort_keys=True, default_flow_style=False)

    _attempt(folder / CONFIG_FILE, effective_config, masker)
    return folder

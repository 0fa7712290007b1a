"""Remove what dead runs left behind, and nothing else.

A run killed with SIGKILL can't clean up. Every harness resource carries owner
labels (see `ownership`); a project is swept only when its name has the
harness's prefix, its owner process is known to be dead on this host, and it
was not kept on purpose with --keep-stack. Then only the resources that carry
those labels are removed: an unlabelled container, network or volume that
shares the project name (made by hand, or by another tool) is not ours.

The sweep runs at every start-up and at the end of every run, so it must never
fail either: a leftover the engine refuses to remove (Docker's 500 "device or
resource busy") is logged by project and left for a later sweep, and an
unreadable owner label counts as an owner we can't judge.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

from pytest_microstack._cleanup.removal import remove_resources
from pytest_microstack._engine.containers import list_containers
from pytest_microstack._ownership import (
    HARNESS_LABEL,
    KEEP_LABEL,
    OWNER_LABEL,
    PROJECT_LABEL,
    Owner,
    is_harness_project,
)

LOG = logging.getLogger(__name__)


def _harness_resources(client: Any) -> dict[str, list[Any]]:
    """Containers, networks and volumes carrying the harness label, by project."""
    label_filter = {"label": HARNESS_LABEL}
    by_project: dict[str, list[Any]] = defaultdict(list)
    kinds: Iterable[Any] = (
        list_containers(client, label_filter),
        client.networks.list(filters=label_filter),
        client.volumes.list(filters=label_filter),
    )
    for resources in kinds:
        for resource in resources:
            by_project[_labels(resource).get(PROJECT_LABEL, "")].append(resource)
    return by_project


def _labels(resource: Any) -> dict[str, str]:
    return resource.attrs.get("Labels") or resource.attrs.get("Config", {}).get("Labels") or {}


def is_abandoned(labels: dict[str, str]) -> bool:
    """A project is abandoned when not kept and its owner is known to be dead."""
    if labels.get(KEEP_LABEL) == "true":
        return False
    owner = Owner.parse(labels.get(OWNER_LABEL, ""))
    return owner is not None and owner.is_alive() is False


def sweep_abandoned(client: Any) -> list[str]:
    """Remove the labelled resources of every abandoned harness project; returns the projects swept.

    Never raises: an engine that can't list, or a project that can't be removed,
    is logged and skipped (the next sweep tries again).
    """
    try:
        by_project = _harness_resources(client)
    except Exception as error:  # noqa: BLE001 - a sweep is housekeeping, never a reason to fail
        LOG.warning("could not list leftovers of dead runs: %s", error)
        return []
    swept = []
    for project, resources in by_project.items():
        if not is_harness_project(project) or not all(is_abandoned(_labels(r)) for r in resources):
            continue
        LOG.warning("removing leftovers of dead run: project %s", project)
        try:
            remove_resources(
                [r for r in resources if isinstance(r, Container)],
                [r for r in resources if isinstance(r, Network)],
                [r for r in resources if isinstance(r, Volume)],
            )
        except Exception as error:  # noqa: BLE001 - one stuck project must not block the others or the run
            LOG.warning(
                "could not remove leftovers of dead run %s (left for a later sweep): %s", project, error
            )
            continue
        swept.append(project)
    return swept

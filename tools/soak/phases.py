"""Which phase a soak run is in, read from its output and from the engine, never from the clock.

The engine tells start-up apart (no resources yet: sweep, config and image
check; resources but not all containers running: `compose up`) and shows a
fault while it is applied (a container paused, exited or cut off its
network). The run's verbose output counts the tests that have a result; once
all have one, what is left is the teardown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pytest_microstack._ownership import HARNESS_LABEL, PROJECT_LABEL

PHASES = ("image-check", "compose-up", "mid-test", "fault", "teardown")
SERVICES_PER_STACK = 2  # user-service and product-service
# A test's result line, serial ("path::name PASSED [ 50%]") or xdist ("[gw0] [ 50%] PASSED path::name").
_RESULT = re.compile(r"^(?=.*::).*\b(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b", re.MULTILINE)
# The first test has begun: serially its node id is printed before its setup (where the
# stack starts); on xdist the workers have collected and tests are being scheduled.
_TESTS_BEGUN = re.compile(r"^\S+\.py::\S+|^scheduling tests via", re.MULTILINE)


@dataclass
class Resources:
    """A run's containers (state, attached networks), networks and volumes, by project."""

    containers: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    networks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    volumes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def projects(self) -> set[str]:
        return set(self.containers) | set(self.networks) | set(self.volumes)

    @property
    def count(self) -> int:
        return (
            sum(len(found) for found in self.containers.values())
            + sum(self.networks.values())
            + sum(self.volumes.values())
        )


def engine_resources(client: Any, prefix: str, *, volumes: bool = False) -> Resources:
    """What the engine holds of projects whose name starts with `prefix` (cheap list calls only)."""
    found = Resources()
    harness = {"label": HARNESS_LABEL}
    for container in client.containers.list(all=True, sparse=True, filters=harness):
        labels = container.attrs.get("Labels") or {}
        project = labels.get(PROJECT_LABEL, "")
        if project.startswith(prefix):
            networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
            found.containers[project].append((str(container.attrs.get("State", "")), len(networks)))
    for network in client.networks.list(filters=harness):
        project = (network.attrs.get("Labels") or {}).get(PROJECT_LABEL, "")
        if project.startswith(prefix):
            found.networks[project] += 1
    if volumes:
        for volume in client.volumes.list(filters=harness):
            project = (volume.attrs.get("Labels") or {}).get(PROJECT_LABEL, "")
            if project.startswith(prefix):
                found.volumes[project] += 1
    return found


def results_in(output: str) -> int:
    """How many tests have a result in a verbose pytest output."""
    return len(_RESULT.findall(output))


def phase(output: str, resources: Resources, selected: int) -> str | None:
    """The run's phase now, one of PHASES, or None before the first test begins."""
    if not _TESTS_BEGUN.search(output):
        return None
    done = results_in(output)
    if done >= selected:
        return "teardown"
    containers = [state for found in resources.containers.values() for state in found]
    faulted = (
        status in {"paused", "exited"} or (status == "running" and networks == 0)
        for status, networks in containers
    )
    complete = all(len(found) == SERVICES_PER_STACK for found in resources.containers.values())
    if any(faulted) and (done or complete):
        return "fault"
    if not resources.projects:
        return "image-check" if done == 0 else "mid-test"
    stack_up = (
        all(
            len(found) == SERVICES_PER_STACK and all(status == "running" for status, _ in found)
            for found in resources.containers.values()
        )
        and set(resources.containers) == resources.projects
    )
    if done == 0 and not stack_up:
        return "compose-up"
    return "mid-test"

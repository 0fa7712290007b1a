"""What the harness has left on the engine, so one sample's cleanup never overlaps the next sample.

The engine is shared: other runs' stacks come and go while the benchmark
runs. A project counts as ours to wait for only when it appeared after a
snapshot and its owner process (the label every harness resource carries) is
dead, i.e. a finished child of this benchmark whose removal is still going on.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Collection
from typing import Any

from docker import DockerClient
from pytest_microstack._cleanup.ownership import OWNER_LABEL, PROJECT_LABEL, Owner

POLL_SECONDS = 0.1  # the resolution of every "until removed" figure
FIXED_PORTS = (5000, 5001)  # compose.yaml publishes these itself (127.0.0.1)


def _labelled(client: DockerClient) -> list[dict[str, str]]:
    """The labels of every container, network and volume carrying the owner label.

    Through the list endpoints alone (no inspect per item), so a resource
    removed while we look is simply absent instead of an error.
    """
    wanted = {"label": OWNER_LABEL}
    api = client.api
    resources: list[dict[str, Any]] = [
        *api.containers(all=True, filters=wanted),
        *api.networks(filters=wanted),
        *(api.volumes(filters=wanted).get("Volumes") or []),
    ]
    return [dict(resource.get("Labels") or {}) for resource in resources]


def harness_projects(client: DockerClient) -> dict[str, str]:
    """Project name -> owner label, for everything the harness labelled on this engine."""
    return {labels.get(PROJECT_LABEL, ""): labels[OWNER_LABEL] for labels in _labelled(client)}


def resources_of_pid(client: DockerClient, pid: int) -> int:
    """How many containers, networks and volumes a process of this host owns."""
    marker = f"{socket.gethostname()}@{pid}:"
    return sum(1 for labels in _labelled(client) if labels[OWNER_LABEL].startswith(marker))


def _dead_new_projects(client: DockerClient, before: Collection[str]) -> set[str]:
    found = harness_projects(client)
    return {
        project
        for project, owner in found.items()
        if project not in before and (parsed := Owner.parse(owner)) is not None and parsed.is_alive() is False
    }


def wait_until_removed(client: DockerClient, before: Collection[str], timeout: float = 60.0) -> float:
    """Seconds until every project made since `before` by a now-dead process is gone.

    Raises TimeoutError naming the projects still there at the deadline.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while remaining := _dead_new_projects(client, before):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"still on the engine {timeout:.0f} s after their run ended: {sorted(remaining)}"
            )
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def wait_until_project_removed(client: DockerClient, project: str, timeout: float = 60.0) -> float:
    """Seconds until nothing of `project` is left (for stacks this process started and handed off)."""
    wanted = {"label": f"{PROJECT_LABEL}={project}"}
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while (
        client.api.containers(all=True, filters=wanted)
        or client.api.networks(filters=wanted)
        or client.api.volumes(filters=wanted).get("Volumes")
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{project} still on the engine after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def _published(client: DockerClient, port: int) -> list[str]:
    return [str(c["Names"][0]) for c in client.api.containers(filters={"publish": str(port)})]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_fixed_ports(client: DockerClient, timeout: float = 120.0) -> None:
    """Wait until nothing publishes or listens on compose.yaml's fixed ports, so our run can take them.

    Another stack started with compose.yaml as written holds them; figures that
    use the file unchanged (plain Testcontainers, `compose up --wait`) must wait their turn.
    """
    deadline = time.monotonic() + timeout
    while True:
        taken = {
            port: names
            for port in FIXED_PORTS
            if (names := _published(client, port) or (["a listener"] if _listening(port) else []))
        }
        if not taken:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"ports still taken after {timeout:.0f} s: {taken}")
        time.sleep(1.0)  # someone else's stack; re-check once a second

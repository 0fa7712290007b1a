"""What a measured run has left on the engine, so one sample's cleanup never overlaps the next sample.

The engine is shared: other runs' stacks come and go while the benchmark
runs. Each child run gets a run id of the benchmark's own (`MICROSTACK_RUN_ID`),
so its compose projects are `microstack-it-<run id>-<worker>`: the bench finds
them as any tool that starts runs would, by the project names the README
documents and Docker Compose's own project label, through docker-py and not
through the plugin's internals.
"""

from __future__ import annotations

import secrets
import socket
import time
from typing import Any

from docker import DockerClient

POLL_SECONDS = 0.1  # the resolution of every "until removed" figure
FIXED_PORTS = (5000, 5001)  # compose.yaml publishes these itself (127.0.0.1)
RUN_ID_ENV = "MICROSTACK_RUN_ID"  # README: the run id in project names, for tools that start runs
PROJECT_LABEL = "com.docker.compose.project"  # Docker Compose puts it on everything it makes


def new_run_id() -> str:
    """A run id of the benchmark's own (1-24 lowercase letters and digits, as MICROSTACK_RUN_ID takes)."""
    return f"bench{secrets.token_hex(4)}"


def run_projects_prefix(run_id: str) -> str:
    """What every compose project of the run `run_id` is named with: microstack-it-<run id>-<worker>."""
    return f"microstack-it-{run_id}-"


def _projects(client: DockerClient) -> list[str]:
    """The compose project of every container, network and volume on the engine.

    Through the list endpoints alone (no inspect per item), so a resource
    removed while we look is simply absent instead of an error.
    """
    wanted = {"label": PROJECT_LABEL}
    api = client.api
    resources: list[dict[str, Any]] = [
        *api.containers(all=True, filters=wanted),
        *api.networks(filters=wanted),
        *(api.volumes(filters=wanted).get("Volumes") or []),
    ]
    return [str((resource.get("Labels") or {}).get(PROJECT_LABEL, "")) for resource in resources]


def run_resources(client: DockerClient, run_id: str) -> int:
    """How many containers, networks and volumes the run `run_id` has on the engine."""
    prefix = run_projects_prefix(run_id)
    return sum(1 for project in _projects(client) if project.startswith(prefix))


def wait_until_run_removed(client: DockerClient, run_id: str, timeout: float = 60.0) -> float:
    """Seconds until nothing of the run `run_id` is left (its reaper may still be at work).

    Raises TimeoutError naming the run still there at the deadline.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while left := run_resources(client, run_id):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{left} resources of run {run_id} still on the engine after {timeout:.0f} s")
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

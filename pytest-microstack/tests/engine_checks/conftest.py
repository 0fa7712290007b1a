"""Checks of the harness itself against the real engine: start-up failures, signals, leaks."""

from __future__ import annotations

from typing import Any

import pytest
from testcontainers.core.docker_client import DockerClient

from tests.harness.sweeper import PROJECT_LABEL


@pytest.fixture(scope="session")
def engine() -> Any:
    """The docker-py client for the local engine."""
    return DockerClient().client


def project_resources(engine: Any, project: str) -> list[str]:
    """Names of every container, network and volume left of a compose project."""
    label = {"label": f"{PROJECT_LABEL}={project}"}
    return [
        *(f"container {c.name}" for c in engine.containers.list(all=True, filters=label)),
        *(f"network {n.name}" for n in engine.networks.list(filters=label)),
        *(f"volume {v.name}" for v in engine.volumes.list(filters=label)),
    ]

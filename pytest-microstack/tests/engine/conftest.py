"""Checks of the plugin against the real engine, on copies of the example project."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._engine.containers import list_containers
from pytest_microstack._ownership import PROJECT_LABEL
from testcontainers.core.docker_client import DockerClient

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def engine() -> Any:
    """The docker-py client for the engine the tests use."""
    return DockerClient().client


def base_image_line() -> str:
    """The BASE_IMAGE line scripts/bootstrap wrote, so the example builds from the same local base."""
    dotenv = REPOSITORY_ROOT / ".env"
    lines = dotenv.read_text().splitlines() if dotenv.is_file() else []
    return next((line for line in lines if line.startswith("BASE_IMAGE=")), "")


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A fresh copy of the example project, with the base image of this machine in its .env."""
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (project / ".env").write_text(base_image_line() + "\n")
    return project


def project_resources(engine: Any, project: str) -> list[str]:
    """Names of every container, network and volume left of a compose project."""
    label = {"label": f"{PROJECT_LABEL}={project}"}
    return [
        *(f"container {c.name}" for c in list_containers(engine, label)),
        *(f"network {n.name}" for n in engine.networks.list(filters=label)),
        *(f"volume {v.name}" for v in engine.volumes.list(filters=label)),
    ]


def ctrl_c_as_a_terminal_sends_it() -> None:
    """A child's `preexec_fn`: SIGINT handled, as in a terminal. A shell without job control
    (`nox ... &`, some CI runners) starts background commands with SIGINT ignored, and a child
    inherits that (Python then installs no KeyboardInterrupt handler): it sleeps through Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

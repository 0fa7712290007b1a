"""The comparison for figure 5: plain Testcontainers usage on the same compose file.

Run by the benchmark with `pytest --noconftest`, so the harness is not loaded:
`DockerCompose(build=True, wait=True)` as its documentation shows, with
`get_service_host_and_port` to find the service.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from testcontainers.compose import DockerCompose

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def compose() -> Iterator[DockerCompose]:
    os.environ.setdefault("USER_SERVICE_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("COMPOSE_PROJECT_NAME", f"bench-plain-{secrets.token_hex(3)}")
    with DockerCompose(ROOT, compose_file_name="compose.yaml", build=True, wait=True) as running:
        yield running


def test_listing_without_logging_in_is_refused(compose: DockerCompose) -> None:
    host, port = compose.get_service_host_and_port("product-service", 5001)
    response = requests.post(
        f"http://{host}:{port}/products", json={"name": "Free lunch", "price": 0}, timeout=10
    )
    assert response.status_code == 401

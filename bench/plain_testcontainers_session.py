"""The comparison for the one-test session: plain Testcontainers usage on the same compose file.

Run by the benchmark in a child pytest without this plugin (`-p no:microstack
-c bench/plain_pytest.ini --noconftest`): `DockerCompose(build=..., wait=True)`
as Testcontainers' documentation shows, with `get_service_host_and_port` to
find the service. BENCH_PLAIN_BUILD=1 builds (`up --build --wait`), 0 starts
the images compose.yaml names as they are (`up --wait`). compose.yaml
publishes fixed ports, so only one such session can run at a time.
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
BUILD = os.environ.get("BENCH_PLAIN_BUILD", "1") == "1"


@pytest.fixture(scope="session")
def compose() -> Iterator[DockerCompose]:
    os.environ.setdefault("USER_SERVICE_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("COMPOSE_PROJECT_NAME", f"bench-plain-{secrets.token_hex(3)}")
    with DockerCompose(ROOT, compose_file_name="compose.yaml", build=BUILD, wait=True) as running:
        yield running


def test_listing_without_logging_in_is_refused(compose: DockerCompose) -> None:
    host, port = compose.get_service_host_and_port("product-service", 5001)
    base = f"http://{host}:{port}"

    response = requests.post(f"{base}/products", json={"name": "Free lunch", "price": 0}, timeout=10)

    assert response.status_code == 401
    listed = requests.get(f"{base}/products", timeout=10).json()
    assert all(p["name"] != "Free lunch" for p in listed)

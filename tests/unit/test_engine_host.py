"""Where the hostile and fuzzing tests may send: loopback, or the remote engine's host."""

from __future__ import annotations

import pytest

from tests.support.engine_host import stack_host


@pytest.mark.parametrize(
    ("docker_host", "expected"),
    [
        ("", "127.0.0.1"),
        ("unix:///var/run/docker.sock", "127.0.0.1"),
        ("tcp://localhost:2375", "127.0.0.1"),
        ("tcp://10.231.0.2:2375", "10.231.0.2"),
        ("ssh://root@10.231.0.6:22", "10.231.0.6"),
    ],
)
def test_stack_host_follows_docker_host(docker_host: str, expected: str) -> None:
    assert stack_host({"DOCKER_HOST": docker_host}) == expected

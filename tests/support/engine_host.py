"""The one host the hostile and fuzzing tests may send to: where this run's stacks publish their ports."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


def stack_host(environ: dict[str, str] | None = None) -> str:
    """127.0.0.1 for a local engine; the host of a tcp:// or ssh:// DOCKER_HOST (a remote engine's)."""
    docker_host = urlsplit((os.environ if environ is None else environ).get("DOCKER_HOST", ""))
    if docker_host.scheme in ("tcp", "ssh") and docker_host.hostname not in (None, "localhost"):
        return str(docker_host.hostname)
    return LOOPBACK

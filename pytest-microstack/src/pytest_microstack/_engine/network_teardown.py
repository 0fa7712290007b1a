"""Wait until a stopped container's network is torn down: at once on Docker, its `cleanup` event on Podman.

Podman can report a killed container exited before its cleanup process has
torn the container's network down. That teardown makes aardvark-dns (before
1.11: Debian 12 has 1.4) reload, and a lookup that any container of the network
makes meanwhile is dropped: the resolver asks again after 5 s
(containers/aardvark-dns#389). A test's call made just after a crash fault
could so wait 5 s for a name, and the recording proxy reset its caller as if
the service were down. Docker has torn the network down before it reports the
container stopped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pytest_microstack._engine.engine import engine_info

TEARDOWN_TIMEOUT = 10.0  # seconds for Podman's cleanup after the container stopped
_RFC3339 = re.compile(r"(?P<whole>[^.Z+]+)(?:\.(?P<fraction>\d+))?(?:Z|\+00:00)?$")


def engine_nanoseconds(stamp: str) -> int | None:
    """An inspect time ("2026-12-08T00:07:10.092902964Z", UTC) in nanoseconds; None when it is not one."""
    match = _RFC3339.match(stamp.strip())
    if match is None:
        return None
    try:
        whole = datetime.fromisoformat(match["whole"]).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(whole.timestamp()) * 10**9 + int((match["fraction"] or "").ljust(9, "0")[:9])


def await_network_teardown(client: Any, container: Any, timeout: float = TEARDOWN_TIMEOUT) -> bool:
    """Until the stopped `container`'s network is torn down; whether that was seen within `timeout`.

    On Podman: its `cleanup` event after the moment it stopped (its `FinishedAt`, on the
    engine's clock, so a skewed clock here doesn't matter), or `timeout` seconds after it.
    """
    if not engine_info(client).is_podman:
        return True
    container.reload()
    stopped = engine_nanoseconds(str(container.attrs.get("State", {}).get("FinishedAt", "")))
    if stopped is None:
        return False
    since = stopped // 10**9
    filters = {"container": container.id, "event": "cleanup"}
    stream = client.events(since=since, until=since + int(timeout) + 1, filters=filters, decode=True)
    try:
        return any(int(event.get("timeNano", 0)) >= stopped for event in stream)  # stops at the first
    finally:
        stream.close()

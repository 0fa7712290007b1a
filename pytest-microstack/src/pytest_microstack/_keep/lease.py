"""Exclusive use of a kept stack: a lease held by the live run that uses it.

A stack kept with --keep-stack or --reuse-stack outlives its run so that a
later run can attach to it. Two live runs must never share one: one run's
faults would hit the other's tests. The run that starts or reuses a kept stack
holds an flock on a file named after the project in the private state folder
for its whole session. The kernel drops the lock when the run ends, however it
ends (SIGKILL included), so the stack is free again as soon as its user is
gone. A record beside the lock names the holder, for messages.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from pytest_microstack._keep.kept import record_dir
from pytest_microstack._ownership import Owner
from pytest_microstack._state_dir import check_private, read_private, write_private

LEASE_FILE = "lease"
HOLDER_FILE = "holder"


@dataclass
class Lease:
    """The held lock on one kept stack; `release` (or the end of the process) frees it."""

    project: str
    lock: FileLock

    def release(self) -> None:
        self.lock.release(force=True)


def take_lease(state: Path, project: str) -> Lease | None:
    """The lease on `project`, or None when another live run holds it. Never waits."""
    folder = record_dir(state, project)
    lock = FileLock(
        str(folder / LEASE_FILE),
        timeout=0,
        mode=0o600,
        thread_local=False,  # taken at fixture set-up, may be released from a backstop thread
        fallback_to_soft=False,  # a soft lock would outlive a SIGKILLed holder
    )
    try:
        lock.acquire()
    except Timeout:
        return None
    try:
        check_private(folder / LEASE_FILE, directory=False)
        write_private(folder / HOLDER_FILE, Owner.current().label().encode())
    except BaseException:
        lock.release(force=True)
        raise
    return Lease(project, lock)


def holder(state: Path, project: str) -> str:
    """Who holds (or last held) the lease on `project`, as an owner label; "" when unknown."""
    with contextlib.suppress(OSError, ValueError):
        return read_private(state / "kept" / project / HOLDER_FILE).decode()
    return ""

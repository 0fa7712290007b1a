"""Remove stacks from a detached process, so pytest exits as soon as its results are reported.

The idea of Testcontainers' Ryuk, without a container: at the end of a session
the stack is handed to `python -m pytest_microstack.reaper PROJECT...`, a
process in a session of its own that outlives pytest, removes the projects and
then sweeps what dead runs left. If it dies too, the owner labels remain and
the next run's sweep removes the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys

# Reapers outlive the run on purpose. Holding them here keeps Popen's "still
# running" ResourceWarning (an error under filterwarnings = error) from firing
# in whichever test is running when the object would otherwise be collected;
# at exit they are left to init (see _leave_to_init).
_SPAWNED: list[subprocess.Popen[bytes]] = []


def _leave_to_init() -> None:
    """At exit: a reaper still running is not ours to wait for; say so, so Popen doesn't warn."""
    for process in _SPAWNED:
        with contextlib.suppress(AttributeError):  # a unit test's stand-in for Popen has no poll()
            if process.poll() is None:
                process.returncode = 0  # never waited for: init reaps it once this process is gone


atexit.register(_leave_to_init)


def spawn(projects: list[str], *, sweep: bool = True) -> subprocess.Popen[bytes]:
    """Start the reaper for these projects and return at once; it inherits DOCKER_HOST and the like."""
    command = [sys.executable, "-m", "pytest_microstack.reaper", *(["--sweep"] if sweep else []), *projects]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the terminal, or the end of pytest's session, doesn't reach it
        close_fds=True,
        env=os.environ.copy(),
    )
    _SPAWNED.append(process)
    return process


def main(argv: list[str]) -> int:
    """Remove each project named, then (with --sweep) what dead runs left behind."""
    from .engine import connect
    from .leftovers import sweep_abandoned
    from .removal import remove_project

    sweep = "--sweep" in argv
    projects = [arg for arg in argv if not arg.startswith("--")]
    client = connect().client
    failed = 0
    for project in projects:
        try:
            remove_project(client, project)
        except Exception:  # noqa: BLE001 - the others still get removed; the next sweep retries
            failed += 1
    if sweep:
        sweep_abandoned(client)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Remove stacks from a detached process, so pytest exits as soon as its results are reported.

The idea of Testcontainers' Ryuk, without a container: at the end of a session
the stack is handed to `python -m pytest_microstack.reaper PROJECT...`, a
process in a session of its own that outlives pytest, removes the projects and
then sweeps what dead runs left. If it dies too, the owner labels remain and
the next run's sweep removes the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys

# Every reaper this process started. A Popen dropped while its process still runs
# is reported as a ResourceWarning ("subprocess ... is still running"): under
# pytest's filterwarnings=error, an error of the test that was running. Kept
# here, they are only dropped at interpreter exit, after pytest has finished.
_started: list[subprocess.Popen[bytes]] = []


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
    _started.append(process)
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

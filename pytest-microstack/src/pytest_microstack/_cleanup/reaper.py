"""Remove stacks from a detached process, so pytest exits as soon as its results are reported.

The idea of Testcontainers' Ryuk, without a container: at the end of a session
the stack is handed to `python -m pytest_microstack._cleanup.reaper --owner
LABEL PROJECT...`, a process in a session of its own that outlives pytest,
removes the projects and then sweeps what dead runs left. It removes only what
the named owner (the run that spawned it) labelled, in projects with the
harness's prefix. If it dies too, the owner labels remain and the next run's
sweep removes the rest.
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: python -m pytest_microstack._cleanup.reaper [--sweep] --owner LABEL [PROJECT...]"


def spawn(projects: list[str], owner: str, *, sweep: bool = True) -> int:
    """Start the reaper for these projects of `owner` (a label value) and return its pid at once.

    posix_spawn in a new session rather than subprocess.Popen: a Popen object
    still running when pytest finishes would be reported as a leaked resource,
    and this process is meant to outlive pytest. It inherits the environment
    (DOCKER_HOST and the like) and reads and writes nothing of ours.
    """
    command = [
        sys.executable,
        "-m",
        "pytest_microstack._cleanup.reaper",
        *(["--sweep"] if sweep else []),
        "--owner",
        owner,
        *projects,
    ]
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    return os.posix_spawn(sys.executable, command, os.environ.copy(), file_actions=quiet, setsid=True)


def main(argv: list[str]) -> int:
    """Remove each project named (only `--owner`'s resources), then (with --sweep) what dead runs left."""
    from pytest_microstack._cleanup.leftovers import sweep_abandoned
    from pytest_microstack._cleanup.removal import remove_project
    from pytest_microstack._engine.engine import connect

    args = list(argv)
    sweep = "--sweep" in args
    owner = ""
    if "--owner" in args:
        at = args.index("--owner")
        owner = args[at + 1] if at + 1 < len(args) else ""
        del args[at : at + 2]
    projects = [arg for arg in args if not arg.startswith("--")]
    if projects and not owner:
        sys.stderr.write(f"reaper: --owner is required to remove a project\n{USAGE}\n")
        return 2
    client = connect().client
    failed = 0
    for project in projects:
        try:
            remove_project(client, project, owner=owner)
        except Exception:  # noqa: BLE001 - the others still get removed; the next sweep retries
            failed += 1
    if sweep:
        sweep_abandoned(client)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

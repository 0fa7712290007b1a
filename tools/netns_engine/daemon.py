"""A second dockerd inside a namespace: started, fed images from the local engine, emptied and stopped."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from tools.netns_engine.plan import EnginePlan
from tools.netns_engine.run import RigError, run, stop_process, wait_until

START_TIMEOUT = 60.0  # seconds for dockerd to answer on its TCP address
STOP_TIMEOUT = 30.0  # seconds for dockerd to end on SIGTERM (it stops its containerd first)
LOAD_TIMEOUT = 600.0  # seconds for `docker save | docker load` of the images, on a loaded machine


def answers(plan: EnginePlan) -> bool:
    """Whether the engine answers `GET /_ping` on the namespace's address."""
    try:
        with urllib.request.urlopen(f"http://{plan.address}:2375/_ping", timeout=2) as response:
            return bool(response.read() == b"OK")
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _mounts_under(folder: Path) -> list[str]:
    """Mount points under `folder` in this process's mount namespace (none, unless something leaked)."""
    prefix = f"{folder}/"
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [point for point in points if point.startswith(prefix)]


def docker(plan: EnginePlan, *args: str, stdin: bytes | None = None, timeout: float = 60.0) -> str:
    """The docker CLI against this engine's unix socket (the host side of the same daemon)."""
    return run(["docker", "-H", f"unix://{plan.socket}", *args], stdin=stdin, timeout=timeout)


def load_images(plan: EnginePlan, images: Sequence[str]) -> None:
    """Copy `images` from the local engine: `docker save | docker -H ... load`. Never a pull."""
    if not images:
        return
    save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load = subprocess.run(
        ["docker", "-H", f"unix://{plan.socket}", "load", "-q"],
        stdin=save.stdout,
        capture_output=True,
        timeout=LOAD_TIMEOUT,
        check=False,
    )
    if save.stdout is not None:
        save.stdout.close()
    _, save_err = save.communicate(timeout=LOAD_TIMEOUT)
    if save.returncode != 0 or load.returncode != 0:
        raise RigError(
            f"copying {', '.join(images)} to {plan.name} failed: save exited {save.returncode} "
            f"({save_err.decode(errors='replace').strip()}), load exited {load.returncode} "
            f"({load.stderr.decode(errors='replace').strip()})"
        )


def remove_everything(plan: EnginePlan) -> None:
    """Every container, network and volume the engine holds (images go with its data-root)."""
    containers = docker(plan, "ps", "-aq").split()
    if containers:
        docker(plan, "rm", "-f", "-v", *containers, timeout=120)
    docker(plan, "network", "prune", "-f")
    docker(plan, "volume", "prune", "-f")


def objects(plan: EnginePlan) -> dict[str, list[str]]:
    """The engine's containers, volumes and non-default networks: what a clean run leaves is none."""
    networks = [
        name
        for name in docker(plan, "network", "ls", "--format", "{{.Name}}").split()
        if name not in ("bridge", "host", "none")
    ]
    return {
        "containers": docker(plan, "ps", "-aq").split(),
        "volumes": docker(plan, "volume", "ls", "-q").split(),
        "networks": networks,
    }


@contextlib.contextmanager
def dockerd(plan: EnginePlan) -> Iterator[EnginePlan]:
    """dockerd in the namespace for the block's length; stopped and its folder removed after."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    (plan.folder / "daemon.json").write_text(json.dumps({}))
    log_path = plan.folder / "dockerd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            plan.in_namespace(plan.dockerd_command()),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches nox, which stops it in order
        )
    try:
        wait_until(
            lambda: answers(plan) or process.poll() is not None,
            timeout=START_TIMEOUT,
            what=f"dockerd of {plan.name} to answer at {plan.tcp_url}",
            last=lambda: _log_tail(log_path),
        )
        if process.poll() is not None:
            raise RigError(f"dockerd of {plan.name} exited {process.returncode}: {_log_tail(log_path)}")
        yield plan
    finally:
        with contextlib.suppress(RigError):
            if process.poll() is None:
                remove_everything(plan)
        stop_process(process, timeout=STOP_TIMEOUT)
        remove_folder(plan.folder)


def remove_folder(folder: Path) -> None:
    """The engine's folder, unless something is still mounted under it (then say what, and keep it)."""
    mounted = _mounts_under(folder)
    if mounted:
        raise RigError(f"not removing {folder}: still mounted under it: {', '.join(mounted[:5])}")
    shutil.rmtree(folder, ignore_errors=True)

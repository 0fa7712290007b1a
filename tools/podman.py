"""A private Podman engine for `nox -s podman`: provisioned, started, and removed with all it made.

Podman's Docker-compatible API on a private socket, with private storage, on a
machine without systemd (Debian's podman and catatonit, apt-installed when
missing). Afterwards nothing of it is left: containers, images, volumes and
networks (`podman system reset`), lingering conmon processes, mounts, the
folders, and the iptables chains netavark leaves behind. Root only.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# Everything the engine makes lives under these two folders, removed at the end.
PODMAN_RUN = Path("/run/microstack-podman")  # configuration, API socket, run root
PODMAN_STORAGE = Path("/var/lib/microstack-podman")  # images, containers, volumes
PODMAN_SOCKET = PODMAN_RUN / "podman.sock"
NETAVARK_RUN = Path("/run/containers/networks")  # netavark's run folder (fixed in Podman 4.3 as root)
PODMAN_PACKAGES = ["podman", "catatonit"]
NETAVARK = "NETAVARK"  # the prefix of the iptables chains Podman's network back-end adds
NETAVARK_TABLES = ("filter", "nat")
ANSWER_TIMEOUT = 10.0  # seconds for the new service to answer on its socket
STOP_TIMEOUT = 30.0  # seconds for the service to stop on SIGTERM before SIGKILL


class PodmanError(RuntimeError):
    """The engine could not be provisioned or did not answer: what, where, and its log."""


def containers_conf(run: Path = PODMAN_RUN) -> str:
    """Podman's defaults, changed where this kind of machine needs it: no systemd (cgroupfs, file
    events), a sandbox that refuses the rlimits Podman sets by default, catatonit for `init: true`."""
    return f"""\
[containers]
default_ulimits = []
init_path = "/usr/bin/catatonit"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{run}/events.log"
tmp_dir = "{run}/tmp"

[network]
network_config_dir = "{run}/networks"
"""


def storage_conf(run: Path = PODMAN_RUN, storage: Path = PODMAN_STORAGE) -> str:
    """Overlay storage in the private folders, never the machine's own /var/lib/containers."""
    return f"""\
[storage]
driver = "overlay"
runroot = "{run}/runroot"
graphroot = "{storage}"
"""


def unix_engine_answers(path: Path) -> bool:
    """Whether an engine answers `GET /_ping` with OK on the unix socket at `path`."""
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(1)
            client.connect(str(path))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            answer = b""
            while chunk := client.recv(4096):
                answer += chunk
        return answer.rstrip().endswith(b"OK")
    except OSError:
        return False


def netavark_lines(listing: str) -> list[str]:
    """netavark's rules and chains among `iptables -S` lines."""
    return [line for line in listing.splitlines() if NETAVARK in line]


def netavark_removal(table: str, lines: list[str]) -> list[list[str]]:
    """The iptables commands that delete netavark's rules, then flush and delete its chains."""
    commands = [
        ["iptables", "-t", table, "-D", *shlex.split(line)[1:]] for line in lines if line.startswith("-A ")
    ]
    chains = [line.split()[1] for line in lines if line.startswith("-N ")]
    for action in ("-F", "-X"):
        commands += [["iptables", "-t", table, action, chain] for chain in chains]
    return commands


def netavark_rules() -> dict[str, list[str]]:
    """netavark's iptables rules and chains (`iptables -S` lines), by table."""
    found = {}
    for table in NETAVARK_TABLES:
        listed = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False)
        found[table] = netavark_lines(listed.stdout)
    return found


def remove_netavark_rules() -> None:
    """Delete netavark's rules, then its chains: it leaves them when its last network is gone."""
    for table, lines in netavark_rules().items():
        for command in netavark_removal(table, lines):
            subprocess.run(command, check=False)


def mounts_under(mounts: str, folder: Path) -> list[str]:
    """Mount points at or under `folder` in /proc/self/mounts text, deepest first."""
    points = [line.split()[1] for line in mounts.splitlines() if len(line.split()) > 1]
    inside = (point for point in points if point == str(folder) or point.startswith(f"{folder}/"))
    return sorted(inside, reverse=True)


def unmount_under(folder: Path) -> None:
    """Unmount whatever is mounted under `folder` (Podman bind-mounts its overlay folder)."""
    for point in mounts_under(Path("/proc/self/mounts").read_text(), folder):
        subprocess.run(["umount", point], check=False)


def conmon_pids(proc: Path = Path("/proc"), storage: Path = PODMAN_STORAGE) -> list[int]:
    """Podman's conmon processes (exec sessions linger) that belong to `storage`."""
    pids = []
    for entry in proc.iterdir():
        try:
            if (
                entry.name.isdigit()
                and (entry / "comm").read_text().strip() == "conmon"
                and str(storage) in (entry / "cmdline").read_text(errors="replace")
            ):
                pids.append(int(entry.name))
        except OSError:
            continue  # it ended while we looked
    return pids


def dotenv_value(dotenv: Path, name: str) -> str:
    """`name`'s value in a .env file; "" when the file or the name is missing."""
    lines = dotenv.read_text().splitlines() if dotenv.is_file() else []
    return next((line.split("=", 1)[1] for line in lines if line.startswith(f"{name}=")), "")


def docker_events(since: float, until: float) -> list[str]:
    """Every event of the Docker engine between two times, one JSON line each."""
    result = subprocess.run(
        ["docker", "events", "--since", f"{since:.0f}", "--until", f"{until:.0f}", "--format", "{{json .}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def docker_events_naming(since: float, markers: tuple[str, ...]) -> list[str]:
    """The Docker engine's events since `since` that name any of `markers` (a run id, a folder)."""
    return [
        event for event in docker_events(since, time.time()) if any(marker in event for marker in markers)
    ]


def docker_counts() -> tuple[int, int]:
    """How many containers (`docker ps -a`) and images (`docker images`) the Docker engine has."""
    listed = [
        subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout.split()
        for command in (["docker", "ps", "-aq"], ["docker", "images", "-q"])
    ]
    return len(listed[0]), len(listed[1])


def load_image(image: str, podman_env: Mapping[str, str]) -> str:
    """`docker save IMAGE | podman load`: the local base image, which no registry here serves."""
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    load = subprocess.run(
        ["podman", "load"],
        stdin=save.stdout,
        env={**os.environ, **podman_env},
        capture_output=True,
        check=False,
    )
    if save.stdout is not None:
        save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        raise PodmanError(f"loading {image} into Podman failed: {load.stderr.decode(errors='replace')}")
    return load.stdout.decode(errors="replace").strip()


def _install_packages(log: Callable[[str], None]) -> None:
    if shutil.which("podman") is None or shutil.which("catatonit") is None:
        log(f"installing {' '.join(PODMAN_PACKAGES)} from Debian")
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *PODMAN_PACKAGES], env=apt, check=True)


def _await_service(service: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while not unix_engine_answers(PODMAN_SOCKET):
        if service.poll() is not None or time.monotonic() > deadline:
            log = (PODMAN_RUN / "service.log").read_text(errors="replace")
            raise PodmanError(f"podman system service did not answer on {PODMAN_SOCKET}:\n{log[-2000:]}")
        time.sleep(0.05)  # polling the new socket under the deadline above


def _stop_service(service: subprocess.Popen[bytes]) -> None:
    os.killpg(service.pid, signal.SIGTERM)
    try:
        service.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(service.pid, signal.SIGKILL)
        service.wait()


@contextmanager
def podman_engine(log: Callable[[str], None], warn: Callable[[str], None]) -> Iterator[dict[str, str]]:
    """Podman's API socket on a private path, its storage in private folders; yields podman's environment.

    Stops the service and removes everything it made afterwards: containers,
    images, volumes and networks (`podman system reset` on the private storage),
    then the folders themselves.
    """
    if unix_engine_answers(PODMAN_SOCKET):
        raise PodmanError(
            f"a Podman service already answers on {PODMAN_SOCKET}: another `nox -s podman` runs"
        )
    _install_packages(log)
    netavark_before = any(netavark_rules().values())
    netavark_run_before = NETAVARK_RUN.parent.exists()
    for folder in (PODMAN_RUN, PODMAN_STORAGE):
        unmount_under(folder)  # a killed earlier session's; its service is gone (above)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
    (PODMAN_RUN / "containers.conf").write_text(containers_conf())
    (PODMAN_RUN / "storage.conf").write_text(storage_conf())
    env = {
        "CONTAINERS_CONF": str(PODMAN_RUN / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(PODMAN_RUN / "storage.conf"),
    }
    with (PODMAN_RUN / "service.log").open("wb") as service_log:
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{PODMAN_SOCKET}"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=service_log,
            start_new_session=True,
        )
        try:
            _await_service(service)
            version = ["podman", "version", "--format", "{{.Server.Version}}"]
            served = subprocess.run(
                version, env={**os.environ, **env}, capture_output=True, text=True, check=True
            )
            log(f"Podman {served.stdout.strip()} on {PODMAN_SOCKET}")
            yield env
        finally:
            _stop_service(service)
            _remove_everything(env, netavark_before=netavark_before, netavark_run_before=netavark_run_before)
            if netavark_before:
                warn("netavark's iptables chains were there before this session: left as they are")


def _remove_everything(env: Mapping[str, str], *, netavark_before: bool, netavark_run_before: bool) -> None:
    subprocess.run(["podman", "system", "reset", "--force"], env={**os.environ, **env}, check=False)
    for pid in conmon_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for folder in (PODMAN_RUN, PODMAN_STORAGE):
        unmount_under(folder)
        shutil.rmtree(folder, ignore_errors=True)
    if not netavark_run_before:
        shutil.rmtree(NETAVARK_RUN.parent, ignore_errors=True)
    if not netavark_before:
        remove_netavark_rules()

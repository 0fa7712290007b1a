"""Who owns a stack: labels that let a later run sweep only dead runs' leftovers."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

LOG = logging.getLogger(__name__)

HARNESS_LABEL = "io.microstack.harness"
OWNER_LABEL = "io.microstack.owner"
KEEP_LABEL = "io.microstack.keep"
CONFIG_LABEL = "io.microstack.config"
# On the images the harness builds: which checkout built them, so that a prune acts on its own only.
CHECKOUT_LABEL = "io.microstack.checkout"
PROJECT_PREFIX = "microstack-it-"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Linux's process information. macOS (Docker Desktop) has none: every reader below
# then returns "", and owners are told apart by host name and pid alone.
PROC = Path("/proc")


def new_run_id() -> str:
    """A short random id shared by every worker of one pytest run."""
    return secrets.token_hex(4)


def project_name(run_id: str, worker: str) -> str:
    """Compose project name unique to this run and xdist worker."""
    return f"{PROJECT_PREFIX}{run_id}-{worker}".lower()


def is_harness_project(project: str) -> bool:
    """Whether a compose project name is one the harness gives (`project_name`)."""
    return project.startswith(PROJECT_PREFIX) and len(project) > len(PROJECT_PREFIX)


def process_start_time(pid: int) -> str:
    """Start time of a process in clock ticks since boot, or "" where /proc is absent.

    With the pid it identifies a process even after the pid is reused.
    """
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    # Field 22; the command name (field 2) may contain spaces, so split after it.
    return stat.rsplit(")", 1)[1].split()[19]


def boot_id() -> str:
    """This boot of this kernel, or "" where /proc is absent.

    Tells apart two machines with one host name (CI runners sharing a
    DOCKER_HOST) and a machine before and after a reboot.
    """
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


def pid_namespace() -> str:
    """The inode of this process's pid namespace, or "" where /proc is absent.

    Pids only mean something inside one namespace: a CI job in a container that
    shares the host's Docker socket sees other jobs' pids as free or as others.
    """
    try:
        return str((PROC / "self" / "ns" / "pid").stat().st_ino)
    except OSError:
        return ""


MACHINE_ID_FILE = "machine-id"
_MACHINE_ID = re.compile(r"[0-9a-f]{16}")


def machine_id(folder: Path) -> str:
    """A random id of this machine (per user), kept in `folder`: created once, atomically.

    Where /proc is absent (macOS) nothing else tells two machines with the
    default host name apart on one remote engine. Two processes creating it at
    once agree: each links a complete file into place and the loser reads the
    winner's. Returns "" for a file that isn't one we wrote (it is not used).
    """
    from pytest_microstack._state_dir import read_private

    path = folder / MACHINE_ID_FILE
    if not path.exists():
        partial = folder / f".{MACHINE_ID_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(8))
        try:
            os.link(partial, path)  # never replaces: the first one written stays
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    text = read_private(path).decode(errors="replace").strip()
    return text if _MACHINE_ID.fullmatch(text) else ""


@functools.cache
def this_machine() -> str:
    """This machine's id from the harness's state folder, read once per process; "" if unavailable."""
    from pytest_microstack._errors import HarnessError
    from pytest_microstack._state_dir import state_dir

    try:
        return machine_id(state_dir())
    except (OSError, HarnessError) as error:
        LOG.warning("no machine id (%s): owners are told apart by host name, as before", error)
        return ""


_BOOT_ID = re.compile(r"[0-9a-fA-F-]*")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", which int() refuses
# Pids a process can have: 0 (and negatives) address process groups in kill(2), and
# the kernel's pid_t is a signed 32-bit integer (os.kill raises OverflowError past it).
MAX_PID = 2**31 - 1
SEPARATOR = "#"  # never in a host name


@dataclass(frozen=True)
class Owner:
    """The process that created a stack and is responsible for removing it.

    A pid is only meaningful on one host, in one boot, in one pid namespace, so
    all of them are recorded; boot id and namespace default to this process's.
    `machine` is the random id of `machine_id` ("" in labels of older versions).
    """

    host: str
    pid: int
    started: str
    boot_id: str = field(default_factory=boot_id)
    pid_namespace: str = field(default_factory=pid_namespace)
    machine: str = ""

    @classmethod
    def current(cls) -> Owner:
        """This process, now. Compute it once per run and keep it: the host name may change meanwhile."""
        pid = os.getpid()
        return cls(
            socket.gethostname(), pid, process_start_time(pid), boot_id(), pid_namespace(), this_machine()
        )

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        """The owner a label names; None when it isn't one of ours.

        `host#boot_id#pid_namespace#machine@pid:start`. Labels of older
        versions, `host#boot_id#pid_namespace@pid:start` and `host@pid:start`,
        parse with an empty machine id (and boot id and namespace).
        """
        where, _, rest = label.rpartition("@")
        pid_text, _, started = rest.partition(":")
        host, *namespaces = where.split(SEPARATOR)
        if not host or not _DIGITS.fullmatch(pid_text) or len(namespaces) not in (0, 2, 3):
            return None
        if not 0 < int(pid_text) <= MAX_PID:
            return None  # no process has it: an owner we can't judge, never one known dead
        boot, namespace, machine = [*namespaces, "", "", ""][:3]
        if not _BOOT_ID.fullmatch(boot) or not (namespace == "" or _DIGITS.fullmatch(namespace)):
            return None
        if len(namespaces) == 3 and not _MACHINE_ID.fullmatch(machine):
            return None
        return cls(host, int(pid_text), started, boot, namespace, machine)

    def label(self) -> str:
        """The owner as one label value.

        Boot id, namespace and machine id go before the `@`: an older version
        reading this label sees another host name (or a form it doesn't know)
        and leaves the stack alone, where after the start time it would see a
        pid reused by someone else, and sweep it.
        """
        parts = (self.host, self.boot_id, self.pid_namespace, *([self.machine] if self.machine else []))
        where = SEPARATOR.join(parts)
        return f"{where}@{self.pid}:{self.started}"

    def is_alive(self) -> bool | None:
        """True or False for a process we can see; None when it can't be known from here.

        Another host name, another boot or another pid namespace (or an older
        label that doesn't say which, read on a machine that knows its own)
        means the pid names a process we can't see: None, and callers leave
        what it owns alone. A label with a machine id is judged by it, not
        by the host name (which macOS changes with the network); one without
        (older versions) by the host name, which without /proc (macOS) is all
        that tells machines apart.
        """
        if self.machine:
            mine = (self.machine, self.boot_id, self.pid_namespace)
            here = (this_machine(), boot_id(), pid_namespace())
        else:
            mine = (self.host, self.boot_id, self.pid_namespace)
            here = (socket.gethostname(), boot_id(), pid_namespace())
        if mine != here:
            return None
        try:
            os.kill(self.pid, 0)  # pragma: no mutate (another signal number would hit the test runner)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # the pid exists, as another user's process: alive unless reused
        started = process_start_time(self.pid)
        return not (self.started and started and started != self.started)


def checkout_id(root: Path) -> str:
    """Identifies one checkout of a project (its folder): two clones build images of one name."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def image_labels(root: Path) -> dict[str, str]:
    """Labels put on every image the harness builds for the project at `root`."""
    return {HARNESS_LABEL: "1", CHECKOUT_LABEL: checkout_id(root)}


def owner_labels(owner: Owner, *, keep: bool, config_hash: str) -> dict[str, str]:
    """Labels put on every container, network and volume of a harness stack."""
    return {
        HARNESS_LABEL: "1",
        OWNER_LABEL: owner.label(),
        KEEP_LABEL: "true" if keep else "false",
        CONFIG_LABEL: config_hash,
    }

"""Who owns a stack: labels that let a later run sweep only dead runs' leftovers."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

HARNESS_LABEL = "io.microstack.harness"
OWNER_LABEL = "io.microstack.owner"
KEEP_LABEL = "io.microstack.keep"
CONFIG_LABEL = "io.microstack.config"
PROJECT_PREFIX = "microstack-it-"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def new_run_id() -> str:
    """A short random id shared by every worker of one pytest run."""
    return secrets.token_hex(4)


def project_name(run_id: str, worker: str) -> str:
    """Compose project name unique to this run and xdist worker."""
    return f"{PROJECT_PREFIX}{run_id}-{worker}".lower()


def process_start_time(pid: int) -> str:
    """Start time of a process in clock ticks since boot, or "" where /proc is absent.

    With the pid it identifies a process even after the pid is reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22; the command name (field 2) may contain spaces, so split after it.
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class Owner:
    """The process that created a stack and is responsible for removing it."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start_time(pid))

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        host, _, rest = label.rpartition("@")
        pid_text, _, started = rest.partition(":")
        if not host or not pid_text.isdigit():
            return None
        return cls(host, int(pid_text), started)

    def label(self) -> str:
        return f"{self.host}@{self.pid}:{self.started}"

    def is_alive(self) -> bool | None:
        """True or False for a process on this host; None when it can't be known."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        started = process_start_time(self.pid)
        return not (self.started and started and started != self.started)


def owner_labels(owner: Owner, *, keep: bool, config_hash: str) -> dict[str, str]:
    """Labels put on every container, network and volume of a harness stack."""
    return {
        HARNESS_LABEL: "1",
        OWNER_LABEL: owner.label(),
        KEEP_LABEL: "true" if keep else "false",
        CONFIG_LABEL: config_hash,
    }

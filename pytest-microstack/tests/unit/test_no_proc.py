"""Ownership and the sweep on a platform without /proc (macOS with Docker Desktop), faked here.

`ownership.PROC` is pointed at a folder that doesn't exist, as /proc doesn't on
macOS: no start times, no boot id, no pid namespace. Owners are then told apart
by host name and pid alone, a dead run's leftovers are still swept, and a label
written on a Linux machine (which does carry a boot id) is left alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_microstack import _ownership as ownership
from pytest_microstack._cleanup.leftovers import sweep_abandoned
from pytest_microstack._ownership import (
    Owner,
    boot_id,
    owner_labels,
    pid_namespace,
    process_start_time,
)

from unit.fakes import FakeEngine

HOST = socket.gethostname()
LINUX_BOOT_ID = "0b6f7a0e-52a4-4c4e-9f53-3f3c2f0d1a11"


@pytest.fixture(autouse=True)
def no_proc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """This process sees no /proc, as on macOS."""
    absent = tmp_path / "no-proc-here"
    monkeypatch.setattr(ownership, "PROC", absent)
    return absent


@pytest.fixture(scope="module")
def reaped_pid() -> int:
    """The pid of a child process that has finished and been waited for."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert child.wait(timeout=30) == 0
    return child.pid


def test_every_reader_of_proc_answers_empty() -> None:
    assert process_start_time(os.getpid()) == ""
    assert boot_id() == ""
    assert pid_namespace() == ""


def test_the_current_owner_is_host_and_pid_only_and_its_label_round_trips() -> None:
    current = Owner.current()

    assert (current.host, current.pid) == (HOST, os.getpid())
    assert (current.started, current.boot_id, current.pid_namespace) == ("", "", "")
    assert current.machine == ownership.this_machine() != ""
    assert current.label() == f"{HOST}###{current.machine}@{os.getpid()}:"
    assert Owner.parse(current.label()) == current


def test_this_process_is_alive_and_a_reaped_one_dead(reaped_pid: int) -> None:
    assert Owner.current().is_alive() is True
    assert Owner(HOST, reaped_pid, "").is_alive() is False


def test_a_start_time_recorded_elsewhere_cant_be_compared_so_the_live_pid_counts() -> None:
    """Without /proc the pid alone decides: a reused pid can't be told from its first owner."""
    assert Owner(HOST, os.getpid(), "123456").is_alive() is True


@pytest.mark.parametrize(
    "owner",
    [
        pytest.param(Owner(f"not-{HOST}", 1, ""), id="another-host"),
        pytest.param(Owner(HOST, 1, "99", LINUX_BOOT_ID, "4026531836"), id="written-on-linux"),
    ],
)
def test_an_owner_it_cant_see_is_unknown(owner: Owner) -> None:
    assert owner.is_alive() is None


def test_the_sweep_removes_a_dead_runs_project_and_leaves_the_others(
    engine: FakeEngine, reaped_pid: int
) -> None:
    owners = {
        "microstack-it-dead-main": Owner(HOST, reaped_pid, ""),
        "microstack-it-alive-main": Owner.current(),
        "microstack-it-linux-main": Owner(HOST, reaped_pid, "99", LINUX_BOOT_ID, "4026531836"),
        "microstack-it-kept-main": Owner(HOST, reaped_pid, ""),
    }
    for project, owner in owners.items():
        labels = owner_labels(owner, keep=project.endswith("kept-main"), config_hash="cafe")
        engine.add_container(f"{project}-api-1", project=project, service="api", labels=labels)

    assert sweep_abandoned(engine) == ["microstack-it-dead-main"]


def test_two_machines_with_one_host_name_never_sweep_each_others_live_stacks(engine: FakeEngine) -> None:
    """Issue 24 §9: two Macs named "MacBook-Pro.local" on one remote engine took each other's
    live stacks for dead (host name and pid alone, and the other's pid is free here)."""
    other_mac = Owner(HOST, 2**22 + 7, "", "", "", "0123456789abcdef")  # a pid free on this machine
    assert other_mac.machine != ownership.this_machine()
    labels = owner_labels(other_mac, keep=False, config_hash="c")
    ident = engine.add_container(
        "microstack-it-mac-main-api-1", project="microstack-it-mac-main", labels=labels
    )

    assert other_mac.is_alive() is None
    assert sweep_abandoned(engine) == []
    assert ident in engine.container_attrs


def test_a_dead_run_of_this_machine_is_still_swept_by_machine_id(engine: FakeEngine, reaped_pid: int) -> None:
    dead_here = Owner(f"renamed-{HOST}", reaped_pid, "", "", "", ownership.this_machine())
    labels = owner_labels(dead_here, keep=False, config_hash="c")
    engine.add_container("microstack-it-gone-main-api-1", project="microstack-it-gone-main", labels=labels)

    assert dead_here.is_alive() is False, "the host name changed since: the machine id still says it is ours"
    assert sweep_abandoned(engine) == ["microstack-it-gone-main"]

"""pytest_microstack._ownership: who owns a stack, and whether that process still lives."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest
from pytest_microstack import _ownership as ownership
from pytest_microstack._ownership import (
    CONFIG_LABEL,
    HARNESS_LABEL,
    KEEP_LABEL,
    OWNER_LABEL,
    Owner,
    is_harness_project,
    new_run_id,
    owner_labels,
    process_start_time,
    project_name,
)

HOST = socket.gethostname()


@pytest.fixture(scope="module")
def reaped_pid() -> int:
    """The pid of a child process that has finished and been waited for."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert child.wait(timeout=30) == 0
    return child.pid


@pytest.mark.parametrize(
    "owner",
    [
        pytest.param(Owner("ci-runner-7", 4242, "123456"), id="plain"),
        pytest.param(Owner("build@box", 1, "99"), id="host-with-at-sign"),
        pytest.param(Owner("mac.local", 31337, ""), id="no-start-time"),
    ],
)
def test_label_parse_round_trip(owner: Owner) -> None:
    assert Owner.parse(owner.label()) == owner


def test_the_largest_pid_a_process_can_have_parses() -> None:
    assert Owner.parse(f"host@{2**31 - 1}:1") == Owner("host", 2**31 - 1, "1", "", "")


def test_current_round_trips_and_names_this_process() -> None:
    current = Owner.current()
    assert current.host == HOST
    assert current.pid == os.getpid()
    assert Owner.parse(current.label()) == current


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("", id="empty"),
        pytest.param("host-only", id="no-at"),
        pytest.param("@123:456", id="no-host"),
        pytest.param("host@:456", id="no-pid"),
        pytest.param("host@12a:456", id="pid-not-a-number"),
        pytest.param("host@-5:1", id="negative-pid"),
        pytest.param("host@0:1", id="zero-pid"),
        pytest.param(f"host@{2**31}:1", id="pid-one-past-pid_t"),
        pytest.param("host@\u00b2:1", id="pid-a-non-ascii-digit"),
        pytest.param("host#abc#\u00b2@1:1", id="namespace-a-non-ascii-digit"),
    ],
)
def test_parse_rejects_malformed_labels(label: str) -> None:
    assert Owner.parse(label) is None


def test_this_process_is_alive() -> None:
    assert Owner(HOST, os.getpid(), process_start_time(os.getpid())).is_alive() is True
    assert Owner.current().is_alive() is True


def test_a_finished_and_reaped_process_is_dead(reaped_pid: int) -> None:
    assert Owner(HOST, reaped_pid, "").is_alive() is False


def test_a_process_on_another_host_is_unknown() -> None:
    assert Owner(f"not-{HOST}", os.getpid(), "").is_alive() is None


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc for start times")
def test_a_reused_pid_with_another_start_time_counts_as_dead() -> None:
    started = process_start_time(os.getpid())
    assert started.isdigit()
    assert Owner(HOST, os.getpid(), str(int(started) + 1)).is_alive() is False


def deny_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.kill as for a process of another user, seen by a non-root caller: it exists, but EPERM."""

    def kill(pid: int, signum: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(ownership, "os", SimpleNamespace(**{**vars(os), "kill": kill}))


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc for start times")
def test_a_process_we_may_not_signal_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """EPERM means the pid exists (issue 18: tests run as root, so this never came up)."""
    deny_signals(monkeypatch)

    assert Owner(HOST, os.getpid(), process_start_time(os.getpid())).is_alive() is True


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc for start times")
def test_a_process_we_may_not_signal_with_another_start_time_is_a_reused_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deny_signals(monkeypatch)
    started = process_start_time(os.getpid())

    assert Owner(HOST, os.getpid(), str(int(started) + 1)).is_alive() is False


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        pytest.param("microstack-it-a1b2c3d4-gw0", True, id="harness"),
        pytest.param("microstack-it-x", True, id="one-character-after-the-prefix"),
        pytest.param("microstack-it-", False, id="the-prefix-alone"),
        pytest.param("microstack", False, id="development-stack"),
        pytest.param("xmicrostack-it-a", False, id="prefix-not-at-the-start"),
        pytest.param("", False, id="empty"),
    ],
)
def test_is_harness_project(project: str, expected: bool) -> None:
    assert is_harness_project(project) is expected


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc for start times")
def test_process_start_time_is_stable_and_distinguishes_processes(reaped_pid: int) -> None:
    assert process_start_time(os.getpid()) == process_start_time(os.getpid())
    assert process_start_time(1) != ""
    assert process_start_time(reaped_pid) == ""


@pytest.mark.parametrize(
    ("run_id", "worker", "expected"),
    [
        pytest.param("a1b2c3d4", "main", "microstack-it-a1b2c3d4-main", id="main"),
        pytest.param("A1B2C3D4", "gw0", "microstack-it-a1b2c3d4-gw0", id="uppercase-run-id"),
        pytest.param("deadbeef", "GW12", "microstack-it-deadbeef-gw12", id="uppercase-worker"),
    ],
)
def test_project_name_is_lowercase_with_run_id_and_worker(run_id: str, worker: str, expected: str) -> None:
    name = project_name(run_id, worker)
    assert name == expected
    assert name == name.lower()
    assert run_id.lower() in name
    assert worker.lower() in name


def test_run_ids_are_short_and_random() -> None:
    ids = {new_run_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(len(run_id) == 8 and run_id == run_id.lower() for run_id in ids)


@pytest.mark.parametrize(("keep", "keep_value"), [(True, "true"), (False, "false")], ids=["keep", "no-keep"])
def test_owner_labels(keep: bool, keep_value: str) -> None:
    owner = Owner("h", 7, "8", "cafe-b007", "4026531836")
    assert owner_labels(owner, keep=keep, config_hash="abc") == {
        HARNESS_LABEL: "1",
        OWNER_LABEL: "h#cafe-b007#4026531836@7:8",
        KEEP_LABEL: keep_value,
        CONFIG_LABEL: "abc",
    }

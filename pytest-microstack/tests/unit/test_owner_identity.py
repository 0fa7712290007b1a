"""pytest_microstack._ownership: an owner is judged only where its pid means something.

A pid names a process only on one host, in one boot, in one pid namespace. An
owner label from anywhere else (or one that doesn't say where) can't be judged
from here, so its stack is treated as alive and left alone; only an owner that
is provably dead here is swept.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_microstack._cleanup.leftovers import is_abandoned, sweep_abandoned
from pytest_microstack._ownership import (
    KEEP_LABEL,
    OWNER_LABEL,
    Owner,
    boot_id,
    owner_labels,
    pid_namespace,
    process_start_time,
)

from unit.fakes import FakeEngine

pytestmark = pytest.mark.skipif(
    not (os.path.exists("/proc/self/ns/pid") and os.path.exists("/proc/sys/kernel/random/boot_id")),
    reason="needs Linux /proc (boot id, pid namespaces)",
)

HOST = socket.gethostname()
OTHER_BOOT = "00000000-0000-4000-8000-000000000000"
OTHER_NAMESPACE = "4026530000"


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a child that has finished and been reaped (not reused this soon)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert child.wait(timeout=30) == 0
    return child.pid


def me(**changes: str) -> Owner:
    """This very process as an owner, with some fields changed."""
    current = Owner.current()
    fields = {
        "host": current.host,
        "started": current.started,
        "boot_id": current.boot_id,
        "pid_namespace": current.pid_namespace,
        **changes,
    }
    return Owner(pid=current.pid, **fields)


def test_the_label_carries_boot_id_and_pid_namespace() -> None:
    current = Owner.current()

    assert current.boot_id == boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert current.pid_namespace == pid_namespace() == str(os.stat("/proc/self/ns/pid").st_ino)
    assert current.label() == (
        f"{HOST}#{current.boot_id}#{current.pid_namespace}#{current.machine}"
        f"@{os.getpid()}:{process_start_time(os.getpid())}"
    )
    assert Owner.parse(current.label()) == current


def test_a_label_of_an_older_version_still_parses_without_boot_id_or_namespace() -> None:
    assert Owner.parse("ci-7@4242:123456") == Owner("ci-7", 4242, "123456", "", "")


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("host#abcd-ef@12:34", id="boot-id-without-namespace"),
        pytest.param("host#abcd-ef#1#2@12:34", id="too-many-parts"),
        pytest.param("host#not/a/boot/id#1@12:34", id="bad-boot-id"),
        pytest.param("host#abcd-ef#ns@12:34", id="namespace-not-a-number"),
        pytest.param("#abcd-ef#1@12:34", id="no-host"),
        pytest.param("host#abcd-ef#1@x:34", id="pid-not-a-number"),
        pytest.param("garbage", id="no-at"),
    ],
)
def test_unparseable_labels_are_refused_and_their_stacks_left_alone(label: str) -> None:
    assert Owner.parse(label) is None
    assert is_abandoned({OWNER_LABEL: label, KEEP_LABEL: "false"}) is False


def test_this_process_with_its_own_identity_is_alive() -> None:
    assert me().is_alive() is True


def test_a_dead_pid_here_is_dead(dead_pid: int) -> None:
    owner = me()
    dead = Owner(owner.host, dead_pid, "", owner.boot_id, owner.pid_namespace)
    assert dead.is_alive() is False
    assert is_abandoned(owner_labels(dead, keep=False, config_hash="c")) is True


def test_a_reused_pid_with_another_start_time_is_dead() -> None:
    reused = me(started=f"{process_start_time(os.getpid())}0")
    assert reused.is_alive() is False
    assert is_abandoned(owner_labels(reused, keep=False, config_hash="c")) is True


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"host": f"not-{HOST}"}, id="other-host"),
        pytest.param({"boot_id": OTHER_BOOT}, id="other-boot"),
        pytest.param({"pid_namespace": OTHER_NAMESPACE}, id="other-pid-namespace"),
        pytest.param({"boot_id": "", "pid_namespace": ""}, id="older-label-says-neither"),
    ],
)
@pytest.mark.parametrize("pid_here", ["live", "dead"])
def test_an_owner_from_elsewhere_cannot_be_judged_and_counts_as_alive(
    changes: dict[str, str], pid_here: str, dead_pid: int
) -> None:
    """Whether the pid lives here says nothing: the same number names another process there."""
    owner = me(**changes)
    if pid_here == "dead":
        owner = Owner(owner.host, dead_pid, "", owner.boot_id, owner.pid_namespace)

    assert owner.is_alive() is None
    assert is_abandoned(owner_labels(owner, keep=False, config_hash="c")) is False


def test_the_sweep_removes_only_the_provably_dead_owners_project(engine: FakeEngine, dead_pid: int) -> None:
    here = me()
    owners = {
        "microstack-it-dead-main": Owner(here.host, dead_pid, "", here.boot_id, here.pid_namespace),
        "microstack-it-otherns-main": Owner(here.host, dead_pid, "", here.boot_id, OTHER_NAMESPACE),
        "microstack-it-otherboot-main": Owner(here.host, dead_pid, "", OTHER_BOOT, here.pid_namespace),
        "microstack-it-otherhost-main": Owner(f"not-{HOST}", dead_pid, "", here.boot_id, here.pid_namespace),
    }
    for project, owner in owners.items():
        labels = owner_labels(owner, keep=False, config_hash="c")
        engine.add_container(f"{project}-api-1", project=project, service="api", labels=labels)
        engine.add_network(f"{project}_default", project=project, labels=labels)

    assert sweep_abandoned(engine) == ["microstack-it-dead-main"]
    remaining = {attrs["Name"] for attrs in engine.network_attrs.values()}
    assert remaining == {f"{project}_default" for project in owners if project != "microstack-it-dead-main"}


def _judged_by_the_previous_version(label: str) -> bool | None:
    """Owner.parse and is_alive of the version before boot ids, as still run by older checkouts."""
    host, _, rest = label.rpartition("@")
    pid_text, _, started = rest.partition(":")
    if not host or not pid_text.isdigit():
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    now = process_start_time(int(pid_text))
    return not (started and now and now != started)


def test_an_older_version_on_the_same_engine_never_takes_a_live_run_for_dead() -> None:
    """Runs of an older checkout share the engine: they must not sweep our live stacks."""
    assert _judged_by_the_previous_version(Owner.current().label()) is not False

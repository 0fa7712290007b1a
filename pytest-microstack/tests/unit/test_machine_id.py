"""ownership.machine_id: a random id per machine in the state folder, created once, atomically."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_microstack import _ownership as ownership
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._ownership import MACHINE_ID_FILE, Owner, machine_id, owner_labels
from pytest_microstack._settings import ServiceSpec

from unit.fakes import FakeCompose, FakeEngine

PROJECT = "microstack-it-host-main"


def test_created_once_private_and_kept(private_state: Path) -> None:
    first = machine_id(private_state)

    assert len(first) == 16
    assert int(first, 16) >= 0
    assert machine_id(private_state) == first
    path = private_state / MACHINE_ID_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in private_state.iterdir()) == [MACHINE_ID_FILE], "no partial file left"


def test_two_folders_get_two_ids(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(mode=0o700)
    two.mkdir(mode=0o700)
    assert machine_id(one) != machine_id(two)


def test_processes_creating_it_at_once_all_agree(private_state: Path) -> None:
    start = threading.Barrier(8)
    seen: list[str] = []

    def create() -> None:
        start.wait(timeout=10)
        seen.append(machine_id(private_state))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(seen) == 8
    assert len(set(seen)) == 1
    assert (private_state / MACHINE_ID_FILE).read_text() == seen[0]


@pytest.mark.parametrize(
    "content", ["", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", "../../etc/passwd"]
)
def test_a_file_that_is_not_an_id_of_ours_gives_none(private_state: Path, content: str) -> None:
    path = private_state / MACHINE_ID_FILE
    path.write_text(content)
    path.chmod(0o600)
    assert machine_id(private_state) == ""


def test_a_file_with_exactly_sixteen_hex_digits_is_read_as_it_is(private_state: Path) -> None:
    path = private_state / MACHINE_ID_FILE
    path.write_text("0123456789abcdef\n")
    path.chmod(0o600)
    assert machine_id(private_state) == "0123456789abcdef"


def test_the_machine_id_goes_into_the_label_and_round_trips() -> None:
    owner = Owner("mac.local", 4242, "", "", "", "0123456789abcdef")
    assert owner.label() == "mac.local###0123456789abcdef@4242:"
    assert Owner.parse(owner.label()) == owner


@pytest.mark.parametrize("machine", ["", "0123", "0123456789abcdeg", "0123456789abcdef0"])
def test_a_label_with_a_malformed_machine_id_is_unreadable(machine: str) -> None:
    assert Owner.parse(f"mac.local###{machine}@4242:") is None


def test_a_label_of_the_version_before_machine_ids_still_parses() -> None:
    assert Owner.parse("box#abc-1#4026531836@42:7") == Owner("box", 42, "7", "abc-1", "4026531836", "")


def test_a_stack_removes_its_own_project_after_the_host_name_changed(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24 §9: teardown recomputed the owner label, so a renamed host leaked its own stack."""
    stack = ComposeStack(
        cast(Any, FakeCompose(project_name=PROJECT)),
        cast(Any, engine),
        "127.0.0.1",
        [ServiceSpec("api", 5000)],
        10,
    )
    labels = owner_labels(Owner.current(), keep=False, config_hash="c")
    engine.add_container(f"{PROJECT}-api-1", project=PROJECT, service="api", labels=labels)
    engine.add_network(f"{PROJECT}_default", project=PROJECT, labels=labels)
    renamed = f"renamed-{socket.gethostname()}"
    monkeypatch.setattr(socket, "gethostname", lambda: renamed)

    stack.stop()

    assert not engine.container_attrs
    assert not engine.network_attrs


def test_the_state_folder_unusable_means_no_machine_id_and_the_host_name_as_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    monkeypatch.setenv("MICROSTACK_STATE_DIR", str(shared))
    monkeypatch.setattr(ownership, "this_machine", ownership.this_machine.__wrapped__)

    assert ownership.this_machine() == ""
    assert Owner.current().machine == ""


def test_a_file_that_is_not_utf_8_gives_none(private_state: Path) -> None:
    path = private_state / MACHINE_ID_FILE
    path.write_bytes(b"0123456789abcde\xff")
    path.chmod(0o600)
    assert machine_id(private_state) == ""


def test_image_labels_name_the_harness_and_the_checkout_folder(tmp_path: Path) -> None:
    from pytest_microstack._ownership import CHECKOUT_LABEL, HARNESS_LABEL, checkout_id, image_labels

    labels = image_labels(tmp_path)

    assert labels == {HARNESS_LABEL: "1", CHECKOUT_LABEL: checkout_id(tmp_path)}
    assert len(checkout_id(tmp_path)) == 16
    assert checkout_id(tmp_path / ".") == checkout_id(tmp_path), "the folder, however it is written"
    assert checkout_id(tmp_path / "other") != checkout_id(tmp_path)

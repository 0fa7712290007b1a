"""pytest_microstack._cleanup.leftovers (and removal): remove dead runs' leftovers, and nothing else."""

from __future__ import annotations

import logging
import os
import socket
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest
import requests
from pytest_microstack._cleanup.leftovers import _labels, is_abandoned, sweep_abandoned
from pytest_microstack._cleanup.removal import remove_project
from pytest_microstack._ownership import (
    HARNESS_LABEL,
    KEEP_LABEL,
    OWNER_LABEL,
    Owner,
    owner_labels,
    process_start_time,
)

from unit.fakes import FakeEngine

HOST = socket.gethostname()
ALIVE = Owner.current()
# This very process, but with another start time: a pid reused by someone else.
DEAD = Owner(HOST, os.getpid(), f"{process_start_time(os.getpid())}0")
ELSEWHERE = Owner(f"not-{HOST}", 1, "1")

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def labels(owner: Owner, *, keep: bool = False) -> dict[str, str]:
    return owner_labels(owner, keep=keep, config_hash="cafe")


def add_project(engine: FakeEngine, project: str, owner: Owner, *, keep: bool = False) -> dict[str, str]:
    """A harness project as compose creates it: two containers, a network and a volume."""
    owned = labels(owner, keep=keep)
    return {
        "api": engine.add_container(f"{project}-api-1", project=project, service="api", labels=owned),
        "db": engine.add_container(f"{project}-db-1", project=project, service="db", labels=owned),
        "network": engine.add_network(f"{project}_default", project=project, labels=owned),
        "volume": engine.add_volume(f"{project}_data", project=project, labels=owned),
    }


def removed_ids(engine: FakeEngine) -> set[str]:
    return {call.ident for call in engine.calls if call.method.startswith("remove_")}


def test_removes_every_resource_of_a_dead_owners_project_containers_first(engine: FakeEngine) -> None:
    ids = add_project(engine, "microstack-it-dead-main", DEAD)

    assert sweep_abandoned(engine) == ["microstack-it-dead-main"]

    removals = [call for call in engine.calls if call.method.startswith("remove_")]
    kinds = [call.method for call in removals]
    assert sorted(kinds[:2]) == ["remove_container", "remove_container"]
    assert sorted(kinds[2:]) == ["remove_network", "remove_volume"]
    for call in engine.calls_to("remove_container"):
        assert call.kwargs == {"force": True, "v": True}
    assert engine.calls_to("remove_volume")[0].kwargs == {"force": True}
    assert removed_ids(engine) == set(ids.values())
    assert not engine.container_attrs
    assert not engine.network_attrs
    assert not engine.volume_attrs


def test_remove_project_removes_only_that_owners_labelled_resources_containers_first(
    engine: FakeEngine,
) -> None:
    mine = add_project(engine, "microstack-it-mine", ALIVE)
    stopped = engine.add_container(
        "microstack-it-mine-old-1", project="microstack-it-mine", labels=labels(ALIVE), status="exited"
    )
    others = add_project(engine, "microstack-it-others", DEAD)

    remove_project(engine, "microstack-it-mine", owner=ALIVE.label())

    assert removed_ids(engine) == {*mine.values(), stopped}
    assert set(others.values()) <= {*engine.container_attrs, *engine.network_attrs, *engine.volume_attrs}
    kinds = [call.method for call in engine.calls if call.method.startswith("remove_")]
    last = {kind: max(i for i, k in enumerate(kinds) if k == kind) for kind in set(kinds)}
    first = {kind: kinds.index(kind) for kind in set(kinds)}
    assert last["remove_container"] < first["remove_network"], "networks in use can't be removed"
    assert last["remove_container"] < first["remove_volume"], "volumes in use can't be removed"


def add_unlabelled(engine: FakeEngine, project: str) -> set[str]:
    """What a user or another tool may put in a project of that name: no harness labels."""
    return {
        engine.add_container(f"{project}-user-service-1", project=project, service="user-service"),
        engine.add_network(f"{project}_default", project=project),
        engine.add_volume(f"{project}_user-data", project=project),
    }


def test_remove_project_leaves_unlabelled_and_other_owners_resources_in_that_project(
    engine: FakeEngine,
) -> None:
    project = "microstack-it-mine"
    mine = add_project(engine, project, ALIVE)
    strangers = add_unlabelled(engine, project)
    other_owner = engine.add_container(f"{project}-other-1", project=project, labels=labels(DEAD))
    harness_only = engine.add_volume(f"{project}_bare", project=project, labels={HARNESS_LABEL: "1"})

    remove_project(engine, project, owner=ALIVE.label())

    assert removed_ids(engine) == set(mine.values())
    survivors = {*engine.container_attrs, *engine.network_attrs, *engine.volume_attrs}
    assert {*strangers, other_owner, harness_only} <= survivors


@pytest.mark.parametrize(
    "project",
    [
        pytest.param("microstack", id="the-development-stack"),
        pytest.param("microstack-it-", id="the-prefix-alone"),
        pytest.param("my-microstack-it-x", id="prefix-not-at-the-start"),
    ],
)
def test_remove_project_refuses_a_project_without_the_harness_prefix(
    engine: FakeEngine, project: str
) -> None:
    ids = add_project(engine, project, ALIVE)

    with pytest.raises(ValueError, match=f"'{project}' is not a harness project"):
        remove_project(engine, project, owner=ALIVE.label())

    assert removed_ids(engine) == set()
    assert set(ids.values()) <= {*engine.container_attrs, *engine.network_attrs, *engine.volume_attrs}


def test_remove_project_refuses_an_empty_owner(engine: FakeEngine) -> None:
    add_project(engine, "microstack-it-mine", ALIVE)

    with pytest.raises(ValueError, match="no owner given for 'microstack-it-mine'"):
        remove_project(engine, "microstack-it-mine", owner="")

    assert removed_ids(engine) == set()


def test_remove_project_of_an_unknown_project_does_nothing(engine: FakeEngine) -> None:
    add_project(engine, "microstack-it-mine", ALIVE)

    remove_project(engine, "microstack-it-nobody", owner=ALIVE.label())

    assert removed_ids(engine) == set()


def test_a_stray_dead_owner_network_in_the_dev_project_removes_nothing(engine: FakeEngine) -> None:
    """Issue 18, 7: this removed the development stack's container and its user-data volume."""
    dev_stack = add_unlabelled(engine, "microstack")
    stray = engine.add_network("microstack_stray", project="microstack", labels=labels(DEAD))

    assert sweep_abandoned(engine) == []

    assert removed_ids(engine) == set()
    assert {*dev_stack, stray} <= {*engine.container_attrs, *engine.network_attrs, *engine.volume_attrs}


def test_the_sweep_removes_only_the_labelled_resources_of_a_dead_harness_project(engine: FakeEngine) -> None:
    project = "microstack-it-dead-main"
    dead = add_project(engine, project, DEAD)
    strangers = add_unlabelled(engine, project)

    assert sweep_abandoned(engine) == [project]

    assert removed_ids(engine) == set(dead.values())
    assert strangers <= {*engine.container_attrs, *engine.network_attrs, *engine.volume_attrs}


def test_lists_only_harness_resources_including_stopped_containers(engine: FakeEngine) -> None:
    sweep_abandoned(engine)

    by_kind = dict(engine.list_calls)
    assert by_kind["containers"]["all"] is True
    for kind in ("containers", "networks", "volumes"):
        assert by_kind[kind]["filters"] == {"label": HARNESS_LABEL}


def test_stopped_containers_of_a_dead_owner_are_removed(engine: FakeEngine) -> None:
    ident = engine.add_container(
        "microstack-it-x-api-1",
        project="microstack-it-x",
        labels=labels(DEAD),
        status="exited",
        exit_code=137,
    )

    assert sweep_abandoned(engine) == ["microstack-it-x"]
    assert removed_ids(engine) == {ident}


@pytest.mark.parametrize(
    ("owner", "keep"),
    [
        pytest.param(ALIVE, False, id="owner-alive"),
        pytest.param(DEAD, True, id="kept-on-purpose"),
        pytest.param(ELSEWHERE, False, id="owner-on-another-host"),
    ],
)
def test_leaves_projects_that_are_not_abandoned(engine: FakeEngine, owner: Owner, keep: bool) -> None:
    add_project(engine, "microstack-it-other-main", owner, keep=keep)

    assert sweep_abandoned(engine) == []
    assert removed_ids(engine) == set()


def test_sweeps_only_the_abandoned_project_among_several(engine: FakeEngine) -> None:
    dead_ids = add_project(engine, "microstack-it-dead-run", DEAD)
    add_project(engine, "microstack-it-live-run", ALIVE)
    add_project(engine, "microstack-it-kept-run", DEAD, keep=True)
    add_project(engine, "microstack-it-remote-run", ELSEWHERE)

    assert sweep_abandoned(engine) == ["microstack-it-dead-run"]
    assert removed_ids(engine) == set(dead_ids.values())


@pytest.mark.parametrize(
    "odd_one_out",
    [
        pytest.param(labels(ALIVE), id="one-container-owned-by-a-live-process"),
        pytest.param(labels(DEAD, keep=True), id="one-container-kept"),
        pytest.param(labels(ELSEWHERE), id="one-container-from-another-host"),
        pytest.param({HARNESS_LABEL: "1"}, id="one-container-without-owner"),
    ],
)
def test_a_project_is_removed_only_when_all_its_resources_are_abandoned(
    engine: FakeEngine, odd_one_out: dict[str, str]
) -> None:
    add_project(engine, "microstack-it-mixed", DEAD)
    engine.add_container("microstack-it-mixed-extra-1", project="microstack-it-mixed", labels=odd_one_out)

    assert sweep_abandoned(engine) == []
    assert removed_ids(engine) == set()


def test_resources_without_a_compose_project_are_never_removed(engine: FakeEngine) -> None:
    engine.add_container("stray", labels=labels(DEAD))
    engine.add_volume("stray-volume", labels=labels(DEAD))

    assert sweep_abandoned(engine) == []
    assert removed_ids(engine) == set()


@pytest.mark.parametrize("vanished", ["api", "network", "volume"])
def test_tolerates_resources_removed_concurrently(engine: FakeEngine, vanished: str) -> None:
    ids = add_project(engine, "microstack-it-dead-run", DEAD)
    method = {"api": "remove_container", "network": "remove_network", "volume": "remove_volume"}[vanished]
    engine.fail_on[(method, ids[vanished])] = docker.errors.NotFound("already gone")

    assert sweep_abandoned(engine) == ["microstack-it-dead-run"]
    assert removed_ids(engine) == set(ids.values()), "the other resources are still removed"


def test_a_removal_already_in_progress_elsewhere_is_left_to_it(engine: FakeEngine) -> None:
    ids = add_project(engine, "microstack-it-dead-run", DEAD)
    conflict = requests.Response()
    conflict.status_code = 409
    engine.fail_on[("remove_container", ids["api"])] = docker.errors.APIError(
        "Conflict", response=conflict, explanation="removal of container is already in progress"
    )

    assert sweep_abandoned(engine) == ["microstack-it-dead-run"]
    assert removed_ids(engine) == set(ids.values()), "every removal was asked for; none raised"


def _server_error(message: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = 500
    return docker.errors.APIError(f"500 Server Error: {message}", response, message)


def test_a_leftover_the_engine_cannot_remove_is_logged_by_project_and_the_others_are_swept(
    engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 24 §7: Docker's 500 "device or resource busy" was re-raised into every later start-up."""
    stuck = add_project(engine, "microstack-it-stuck-main", DEAD)
    freed = add_project(engine, "microstack-it-freed-main", DEAD)
    busy = "container rm: unlinkat /var/lib/docker/overlay2/x/merged: device or resource busy"
    engine.fail_on[("remove_container", stuck["api"])] = _server_error(busy)

    with caplog.at_level(logging.WARNING, logger="pytest_microstack._cleanup.leftovers"):
        swept = sweep_abandoned(engine)

    assert swept == ["microstack-it-freed-main"]
    assert set(freed.values()).isdisjoint(engine.container_attrs.keys() | engine.network_attrs.keys())
    assert stuck["api"] in engine.container_attrs, "left for a later sweep"
    failures = [r.getMessage() for r in caplog.records if "could not remove" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].startswith(
        "could not remove leftovers of dead run microstack-it-stuck-main (left for a later sweep): "
    )
    assert "device or resource busy" in failures[0]


def test_an_engine_that_cannot_list_fails_no_sweep(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(**kwargs: Any) -> list[Any]:
        raise _server_error("listing is broken")

    monkeypatch.setattr(engine.networks, "list", refuse)
    add_project(engine, "microstack-it-dead-run", DEAD)

    with caplog.at_level(logging.WARNING, logger="pytest_microstack._cleanup.leftovers"):
        assert sweep_abandoned(engine) == []

    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("could not list leftovers of dead runs: ")
    assert "listing is broken" in message
    assert not engine.calls_to("remove_container")


@pytest.mark.parametrize(
    "pid",
    [
        pytest.param(2**31, id="one-past-pid_t"),
        pytest.param(2**64, id="far-past-pid_t"),
        pytest.param(0, id="zero-a-process-group"),
    ],
)
def test_an_owner_with_an_out_of_range_pid_is_unknown_and_left_alone(engine: FakeEngine, pid: int) -> None:
    """Issue 24 §7: such a label raised OverflowError from os.kill into start-up."""
    label = f"{HOST}#{ALIVE.boot_id}#{ALIVE.pid_namespace}@{pid}:1"
    owned = {**labels(DEAD), OWNER_LABEL: label}
    ident = engine.add_container(
        "microstack-it-odd-main-api-1", project="microstack-it-odd-main", labels=owned
    )

    assert sweep_abandoned(engine) == []
    assert ident in engine.container_attrs
    assert is_abandoned(owned) is False


@pytest.mark.parametrize(
    ("resource_labels", "expected"),
    [
        pytest.param(labels(DEAD), True, id="dead-owner"),
        pytest.param(labels(ALIVE), False, id="live-owner"),
        pytest.param(labels(DEAD, keep=True), False, id="kept"),
        pytest.param(labels(ELSEWHERE), False, id="other-host"),
        pytest.param({HARNESS_LABEL: "1"}, False, id="no-owner-label"),
        pytest.param({OWNER_LABEL: "garbage", KEEP_LABEL: "false"}, False, id="unparseable-owner"),
    ],
)
def test_is_abandoned(resource_labels: dict[str, Any], expected: bool) -> None:
    assert is_abandoned(resource_labels) is expected


def test_a_container_removed_by_a_concurrent_sweeper_while_listing_is_tolerated(
    either_engine: FakeEngine,
) -> None:
    ids = add_project(either_engine, "microstack-it-dead-run", DEAD)
    either_engine.removed_while_listing.add(ids["api"])

    assert sweep_abandoned(either_engine) == ["microstack-it-dead-run"]
    assert not either_engine.container_attrs


def test_a_container_removed_while_its_project_is_removed_is_tolerated(either_engine: FakeEngine) -> None:
    ids = add_project(either_engine, "microstack-it-mine", DEAD)
    either_engine.removed_while_listing.add(ids["api"])

    remove_project(either_engine, "microstack-it-mine", owner=DEAD.label())

    assert not either_engine.container_attrs
    assert not either_engine.network_attrs


def test_removing_a_container_that_podman_is_removing_already_is_tolerated(engine: FakeEngine) -> None:
    ids = add_project(engine, "microstack-it-dead-run", DEAD)
    engine.fail_on[("remove_container", ids["api"])] = FakeEngine("podman").gone_error(ids["api"])

    assert sweep_abandoned(engine) == ["microstack-it-dead-run"]
    assert removed_ids(engine) == set(ids.values())


def test_a_dead_project_listed_after_a_live_one_is_still_swept(engine: FakeEngine) -> None:
    add_project(engine, "microstack-it-live-run", ALIVE)
    engine.add_network("stray", project="microstack", labels=labels(DEAD))  # not a harness project
    dead = add_project(engine, "microstack-it-dead-run", DEAD)

    assert sweep_abandoned(engine) == ["microstack-it-dead-run"]
    assert removed_ids(engine) == set(dead.values())


def test_each_project_swept_is_logged_by_name(engine: FakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    add_project(engine, "microstack-it-dead-run", DEAD)

    with caplog.at_level(logging.WARNING, logger="pytest_microstack._cleanup.leftovers"):
        sweep_abandoned(engine)

    assert caplog.messages == ["removing leftovers of dead run: project microstack-it-dead-run"]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"Config": {"Labels": {"a": "1"}}}, {"a": "1"}, id="container"),
        pytest.param({"Labels": {"a": "1"}}, {"a": "1"}, id="network-or-volume"),
        pytest.param({"Labels": None}, {}, id="volume-without-labels"),
        pytest.param({"Labels": {}}, {}, id="network-without-labels"),
    ],
)
def test_labels_of_each_kind_of_resource(attrs: dict[str, Any], expected: dict[str, str]) -> None:
    assert _labels(SimpleNamespace(attrs=attrs)) == expected


@pytest.mark.parametrize(
    ("kind", "explanation"),
    [
        pytest.param("volume", "remove microstack-it-x_data: volume is in use - [affb2952]", id="volume"),
        pytest.param("network", "error while removing network: network x has active endpoints", id="network"),
    ],
)
def test_a_volume_or_network_used_by_a_container_not_ours_is_left_and_the_rest_removed(
    engine: FakeEngine, caplog: pytest.LogCaptureFixture, kind: str, explanation: str
) -> None:
    """Seen in a real run: an unlabelled container of a dead run's project held its volume (409)."""
    ids = add_project(engine, "microstack-it-dead-run", DEAD)
    conflict = requests.Response()
    conflict.status_code = 409
    method = f"remove_{kind}"
    engine.fail_on[(method, ids[kind])] = docker.errors.APIError(
        "Conflict", response=conflict, explanation=explanation
    )

    with caplog.at_level(logging.WARNING, logger="pytest_microstack._cleanup.removal"):
        assert sweep_abandoned(engine) == ["microstack-it-dead-run"]

    assert removed_ids(engine) == set(ids.values()), "every removal was asked for; none raised"
    assert any("not the harness's" in message for message in caplog.messages)


def test_a_container_conflict_is_not_mistaken_for_a_volume_in_use(engine: FakeEngine) -> None:
    ids = add_project(engine, "microstack-it-dead-run", DEAD)
    conflict = requests.Response()
    conflict.status_code = 409
    engine.fail_on[("remove_container", ids["api"])] = docker.errors.APIError(
        "Conflict", response=conflict, explanation="volume is in use"
    )

    with pytest.raises(docker.errors.APIError):
        remove_project(engine, "microstack-it-dead-run", owner=DEAD.label())
    assert sweep_abandoned(engine) == [], "the sweep logs it and goes on"


def test_at_interpreter_shutdown_resources_are_removed_one_at_a_time(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24 §11: the atexit backstop ran after concurrent.futures' shutdown, whose pools refuse
    work, so a stack interrupted during start-up was never removed."""
    from concurrent.futures import ThreadPoolExecutor

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", refuse)
    ids = add_project(engine, "microstack-it-exiting-main", ALIVE)

    remove_project(engine, "microstack-it-exiting-main", owner=ALIVE.label())

    assert removed_ids(engine) == set(ids.values())
    assert not engine.container_attrs
    assert not engine.network_attrs
    assert not engine.volume_attrs
    kinds = [call.method for call in engine.calls if call.method.startswith("remove_")]
    assert kinds[:2] == ["remove_container", "remove_container"], "containers first, still"


def test_another_runtime_error_of_the_pool_is_not_taken_for_shutdown(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something else")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", refuse)
    add_project(engine, "microstack-it-odd-main", ALIVE)

    with pytest.raises(RuntimeError, match="something else"):
        remove_project(engine, "microstack-it-odd-main", owner=ALIVE.label())
    assert not engine.calls_to("remove_container")

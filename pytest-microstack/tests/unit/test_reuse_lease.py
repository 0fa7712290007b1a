"""--keep-stack/--reuse-stack: a kept stack is leased to the live run using it, never shared.

open_stack_with runs on a fake engine and a fake `docker compose` (fake_lifecycle);
the lease itself is a real flock in a real private folder, and the holder
that dies is a real process killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pytest_microstack._core.lifecycle import open_stack_with
from pytest_microstack._keep.kept import load_record
from pytest_microstack._keep.lease import holder, take_lease
from pytest_microstack._ownership import KEEP_LABEL, OWNER_LABEL, Owner
from pytest_microstack._settings import TeardownPolicy
from pytest_microstack._state_dir import state_dir

from unit.fake_lifecycle import SECRET, FakeCompose, fake_compose, fake_engine, settings
from unit.fakes import FakeEngine

__all__ = ["fake_compose"]  # the fixture, used by name


def labels_of(engine: FakeEngine, ident: str) -> dict[str, str]:
    labels: dict[str, str] = engine.container_attrs[ident]["Config"]["Labels"]
    return labels


def test_a_lease_is_exclusive_and_free_again_once_released(tmp_path: Path) -> None:
    state = state_dir(tmp_path / "state")

    first = take_lease(state, "microstack-it-a-main")
    assert first is not None
    assert take_lease(state, "microstack-it-a-main") is None, "a second holder got the same stack"
    assert holder(state, "microstack-it-a-main") == Owner.current().label()
    assert take_lease(state, "microstack-it-b-main") is not None, "leases are per stack"

    first.release()
    again = take_lease(state, "microstack-it-a-main")
    assert again is not None
    again.release()


def test_a_lease_held_by_a_process_is_free_once_that_process_is_killed(tmp_path: Path) -> None:
    state = state_dir(tmp_path / "state")
    holder_script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from pytest_microstack._keep.lease import take_lease
        lease = take_lease(Path({str(state)!r}), "microstack-it-k-main")
        print("held" if lease else "refused", flush=True)
        sys.stdin.read()  # hold it until killed
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", holder_script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        assert take_lease(state, "microstack-it-k-main") is None, "held by a live run"
        named = Owner.parse(holder(state, "microstack-it-k-main"))
        assert named is not None
        assert named.pid == child.pid, "the record names the holder"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)

    lease = take_lease(state, "microstack-it-k-main")
    assert lease is not None, "a SIGKILLed holder must not keep the stack forever"
    lease.release()


def test_a_run_reusing_meanwhile_gets_its_own_stack_never_the_one_in_use(
    fake_compose: FakeCompose, engine: FakeEngine, tmp_path: Path
) -> None:
    keeper = settings(tmp_path, "aaaa0001", teardown=TeardownPolicy.KEEP)
    with open_stack_with(keeper, fake_engine(engine)) as kept:
        kept_containers = set(fake_compose.containers_of(kept.project))

        with open_stack_with(
            settings(tmp_path, "bbbb0002", teardown=TeardownPolicy.REUSE), fake_engine(engine)
        ) as other:
            assert other.project != kept.project
            assert fake_compose.ran("up")[-1].project == other.project, "it started a stack of its own"
            assert set(fake_compose.containers_of(kept.project)) == kept_containers, "the kept one untouched"

    # Both are kept and both leases are released: the next reuser attaches to one, starting nothing.
    ups = len(fake_compose.ran("up"))
    with open_stack_with(
        settings(tmp_path, "cccc0003", teardown=TeardownPolicy.REUSE), fake_engine(engine)
    ) as reused:
        assert reused.project == kept.project
        assert len(fake_compose.ran("up")) == ups

        with open_stack_with(
            settings(tmp_path, "dddd0004", teardown=TeardownPolicy.REUSE), fake_engine(engine)
        ) as second:
            assert second.project == other.project, "the other kept stack, free, is reused"
            assert len(fake_compose.ran("up")) == ups


def test_repairing_a_reused_stack_uses_the_recorded_override_and_secrets(
    fake_compose: FakeCompose, engine: FakeEngine, tmp_path: Path
) -> None:
    with open_stack_with(
        settings(tmp_path, "aaaa0005", teardown=TeardownPolicy.KEEP), fake_engine(engine)
    ) as kept:
        project = kept.project
        started_with = fake_compose.ran("up")[-1]
    record = load_record(state_dir(), project)
    assert record is not None
    original = {labels_of(engine, ident)[OWNER_LABEL] for ident in fake_compose.containers_of(project)}

    with open_stack_with(
        settings(tmp_path, "eeee0006", teardown=TeardownPolicy.REUSE), fake_engine(engine)
    ) as reused:
        assert reused.project == project
        api = reused.container("api")
        assert api is not None
        api.remove(force=True)  # a test broke it beyond a restart

        reused.repair()

        repair = fake_compose.ran("up")[-1]
        assert repair is not started_with
        assert repair.project == project
        assert repair.files == started_with.files == ["compose.yaml", str(record.override)]
        assert repair.env[SECRET] == started_with.env[SECRET] == record.environment[SECRET]
        recreated = reused.container("api")
        assert recreated is not None
        assert recreated.id != api.id
        assert reused.environment("api")[SECRET] == record.environment[SECRET]
        assert recreated.labels[OWNER_LABEL] in original, "recreated with the starter's labels"
        assert recreated.labels[KEEP_LABEL] == "true", "and still kept: never swept"


@pytest.mark.parametrize("policy", [TeardownPolicy.KEEP, TeardownPolicy.REUSE], ids=["keep", "reuse"])
def test_the_starting_run_holds_the_lease_of_its_kept_stack_for_its_session(
    fake_compose: FakeCompose, engine: FakeEngine, tmp_path: Path, policy: TeardownPolicy
) -> None:
    with open_stack_with(settings(tmp_path, "ffff0007", teardown=policy), fake_engine(engine)) as kept:
        assert take_lease(state_dir(), kept.project) is None
    lease = take_lease(state_dir(), kept.project)
    assert lease is not None
    lease.release()

"""The namespaced-engine rig (tools/netns_engine): its plan exactly, and a real namespace made and removed."""

from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path

import pytest

from tools.netns_engine import namespace
from tools.netns_engine.dns import answer
from tools.netns_engine.plan import (
    MAX_INTERFACE_NAME,
    MAX_SLOTS,
    EnginePlan,
    PlanError,
    plans,
    slots_in_use,
    ssh_client_config,
    sshd_config,
)
from tools.netns_engine.run import RigError, run, wait_until

RUN_DIR = Path("/tmp/msk-rig-test")


def test_plan_addresses_are_the_slots_own_30() -> None:
    plan = EnginePlan("abcde", 3, RUN_DIR)
    assert (plan.host_address, plan.address) == ("10.231.0.13", "10.231.0.14")
    assert plan.link == ipaddress.IPv4Network("10.231.0.12/30")
    assert plan.tcp_url == "tcp://10.231.0.14:2375"
    assert plan.ssh_url == "ssh://root@10.231.0.14:22"
    assert plan.bridge_ip == "10.232.3.1/24"
    assert plan.address_pool == "base=10.236.0.0/16,size=24"


def test_last_slot_stays_below_the_top_of_10_slash_8() -> None:
    plan = EnginePlan("abcde", MAX_SLOTS - 1, RUN_DIR)
    assert plan.address_pool == "base=10.252.0.0/16,size=24"
    assert len(plan.host_veth) <= MAX_INTERFACE_NAME
    assert len(plan.ns_veth) <= MAX_INTERFACE_NAME


@pytest.mark.parametrize(("tag", "slot"), [("abcd", 0), ("ABCDE", 0), ("abcde", -1), ("abcde", MAX_SLOTS)])
def test_plan_refuses_what_it_cannot_address(tag: str, slot: int) -> None:
    with pytest.raises(PlanError):
        EnginePlan(tag, slot, RUN_DIR)


def test_dockerd_shares_no_path_or_config_with_the_hosts() -> None:
    plan = EnginePlan("abcde", 1, RUN_DIR)
    command = plan.dockerd_command()
    for flag in ("--config-file", "--data-root", "--exec-root", "--pidfile"):
        (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"{flag}=")]
        assert value.startswith(f"{RUN_DIR}/engine-1/")
    assert "--host=tcp://10.231.0.6:2375" in command
    assert f"--host=unix://{RUN_DIR}/engine-1/docker.sock" in command
    assert plan.in_namespace(["true"])[:2] == ["nsenter", "--net=/run/netns/msk-abcde-1"]


def test_plans_skip_taken_slots_and_refuse_too_many() -> None:
    assert [plan.slot for plan in plans("abcde", 2, RUN_DIR, {0, 2})] == [1, 3]
    with pytest.raises(PlanError, match="3 engines asked for, 2 slots free"):
        plans("abcde", 3, RUN_DIR, set(range(MAX_SLOTS - 2)))
    with pytest.raises(PlanError):
        plans("abcde", 0, RUN_DIR)


def test_slots_in_use_reads_only_the_rigs_network() -> None:
    addresses = ["127.0.0.1/8", "10.231.0.1/30", "10.231.0.9/30", "10.230.0.1/30", "172.17.0.1/16"]
    assert slots_in_use(addresses) == {0, 2}


def test_ssh_files_point_at_the_namespaced_engine_and_the_runs_key_only() -> None:
    plan = EnginePlan("abcde", 0, RUN_DIR)
    server = sshd_config(
        plan, host_key=Path("/k/host"), authorized_keys=Path("/k/auth"), pid_file=Path("/k/pid")
    )
    assert f"SetEnv DOCKER_HOST=unix://{RUN_DIR}/engine-0/docker.sock" in server.splitlines()
    assert "ListenAddress 10.231.0.2:22" in server.splitlines()
    assert "PasswordAuthentication no" in server.splitlines()
    client = ssh_client_config(plan, identity=Path("/k/id"), known_hosts=Path("/k/known"))
    assert "  StrictHostKeyChecking yes" in client.splitlines()
    assert "  IdentitiesOnly yes" in client.splitlines()
    assert "  ControlPath /k/cm-%C" in client.splitlines()  # one connection per engine, in the run's folder


def test_run_says_command_exit_code_and_stderr() -> None:
    with pytest.raises(RigError, match=r"sh -c echo no >&2; exit 3 exited 3: no"):
        run(["sh", "-c", "echo no >&2; exit 3"])
    with pytest.raises(RigError, match="not installed"):
        run(["/nonexistent/tool"])


def test_wait_until_names_what_and_the_last_thing_seen() -> None:
    with pytest.raises(RigError, match=r"the thing within 0.2 s; last seen: still no"):
        wait_until(lambda: False, timeout=0.2, what="the thing", last=lambda: "still no")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2")
def test_namespace_gets_its_address_and_is_removed_even_after_a_failure() -> None:
    (plan,) = plans("fffff", 1, RUN_DIR, slots_in_use(namespace.host_addresses()))
    seen: list[str] = []

    def use_then_fail() -> None:
        with namespace.namespace(plan):
            seen.append(
                run(["ip", "netns", "exec", plan.name, "ip", "-o", "-4", "addr", "show", "dev", plan.ns_veth])
            )
            seen.append(run(["ip", "netns", "exec", plan.name, "ip", "route"]))
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        use_then_fail()
    assert f"{plan.address}/30" in seen[0]
    assert "default" not in seen[1]
    assert plan.name not in namespace.leftovers()
    assert not Path(f"/sys/class/net/{plan.host_veth}").exists()


def test_resolver_answers_nxdomain_with_the_querys_id_and_question() -> None:
    question = b"\x0cuser-service\x00\x00\x01\x00\x01"
    query = bytes.fromhex("beef01000001000000000000") + question
    reply = answer(query)
    assert reply is not None
    assert reply[:2] == b"\xbe\xef"
    assert reply[2:4] == bytes.fromhex("8183")  # response, recursion desired and available, NXDOMAIN
    assert reply[4:12] == bytes.fromhex("0001000000000000")
    assert reply[12:] == question


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        bytes.fromhex("beef81000001000000000000") + b"\x00\x00\x01\x00\x01",
        bytes.fromhex("beef01000001000000000000") + b"\x05ab",
    ],
    ids=["short", "a-response", "truncated-question"],
)
def test_resolver_ignores_what_is_not_one_whole_query(packet: bytes) -> None:
    assert answer(packet) is None

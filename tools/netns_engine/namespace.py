"""A network namespace with its own address on a veth pair, and its removal."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from tools.netns_engine.plan import PREFIX, EnginePlan
from tools.netns_engine.run import RigError, run, wait_until

NETNS_DIR = Path("/run/netns")


def host_addresses() -> list[str]:
    """This machine's IPv4 addresses with their prefix (10.231.0.1/30 ...)."""
    lines = run(["ip", "-o", "-4", "addr", "show"]).splitlines()
    return [line.split()[3] for line in lines if len(line.split()) > 3]


def create(plan: EnginePlan) -> None:
    """The namespace, its loopback, and the veth pair: host .1, namespace .2, no default route."""
    run(["ip", "netns", "add", plan.name])
    run(["ip", "link", "add", plan.host_veth, "type", "veth", "peer", "name", plan.ns_veth])
    run(["ip", "link", "set", plan.ns_veth, "netns", plan.name])
    run(["ip", "addr", "add", f"{plan.host_address}/30", "dev", plan.host_veth])
    run(["ip", "link", "set", plan.host_veth, "up"])
    inside = ["ip", "netns", "exec", plan.name]
    run([*inside, "ip", "addr", "add", f"{plan.address}/30", "dev", plan.ns_veth])
    run([*inside, "ip", "link", "set", plan.ns_veth, "up"])
    run([*inside, "ip", "link", "set", "lo", "up"])


def pids(name: str) -> list[int]:
    """Processes whose network namespace is `name` (dockerd, containerd, shims, containers, sshd)."""
    try:
        return [int(pid) for pid in run(["ip", "netns", "pids", name]).split()]
    except RigError:
        return []


def remove(name: str, host_veth: str, *, timeout: float = 20.0) -> None:
    """Kill what still runs in the namespace, then delete it and the host end of the veth."""
    for pid in pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: not pids(name),
        timeout=timeout,
        what=f"processes of {name} to end",
        last=lambda: f"pids {pids(name)}",
    )
    # The host end first: deleting it deletes its peer at once, whereas a deleted
    # namespace's devices go asynchronously (a check right after would still see them).
    if Path(f"/sys/class/net/{host_veth}").exists():
        run(["ip", "link", "del", host_veth])
    if (NETNS_DIR / name).exists():
        run(["ip", "netns", "del", name])


@contextlib.contextmanager
def namespace(plan: EnginePlan) -> Iterator[EnginePlan]:
    """The namespace for the block's length; removed after, even when making it failed half-way."""
    try:
        create(plan)
        yield plan
    finally:
        remove(plan.name, plan.host_veth)


def leftovers() -> list[str]:
    """Namespaces of earlier rigs (a SIGKILLed nox): their names, for `python -m tools.netns_engine clean`."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(path.name for path in NETNS_DIR.iterdir() if path.name.startswith(f"{PREFIX}-"))

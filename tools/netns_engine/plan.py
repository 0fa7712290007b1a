"""Names, addresses, paths and command lines of one namespaced engine: pure data, no side effects."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

PREFIX = "msk"  # every namespace, veth and folder of the rig starts with it
TAG_PATTERN = re.compile(r"^[0-9a-f]{5}$")
MAX_INTERFACE_NAME = 15  # IFNAMSIZ - 1
LINK_NETWORK = ipaddress.IPv4Network("10.231.0.0/16")  # /30 per engine: host .1, namespace .2
BRIDGE_NETWORK = ipaddress.IPv4Network("10.232.0.0/16")  # the engine's docker0: a /24 per engine
POOL_FIRST_OCTET2 = 233  # compose networks of engine k: 10.(233+k).0.0/16 in /24s
MAX_SLOTS = 20  # 10.233-10.252: below 10.255, and far from Docker's 172.17-31/192.168 pools
TCP_PORT = 2375
SSH_PORT = 22


class PlanError(ValueError):
    """A slot or tag outside what the rig can address: which, and the allowed range."""


@dataclass(frozen=True)
class EnginePlan:
    """Everything one namespaced engine is made of, from a run tag and a slot number."""

    tag: str
    slot: int
    run_dir: Path

    def __post_init__(self) -> None:
        if not TAG_PATTERN.match(self.tag):
            raise PlanError(f"tag {self.tag!r} must be 5 lowercase hex digits")
        if not 0 <= self.slot < MAX_SLOTS:
            raise PlanError(f"slot {self.slot} is outside 0..{MAX_SLOTS - 1}")

    @property
    def name(self) -> str:
        """The network namespace's name (also the engine's label in logs)."""
        return f"{PREFIX}-{self.tag}-{self.slot}"

    @property
    def host_veth(self) -> str:
        return f"{PREFIX}{self.tag}h{self.slot}"

    @property
    def ns_veth(self) -> str:
        return f"{PREFIX}{self.tag}n{self.slot}"

    @property
    def link(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network((int(LINK_NETWORK.network_address) + 4 * self.slot, 30))

    @property
    def host_address(self) -> str:
        return str(self.link.network_address + 1)

    @property
    def address(self) -> str:
        """The namespace's own address: the only one the rig's traffic goes to, besides 127.0.0.1."""
        return str(self.link.network_address + 2)

    @property
    def bridge_ip(self) -> str:
        return f"{BRIDGE_NETWORK.network_address + 256 * self.slot + 1}/24"

    @property
    def address_pool(self) -> str:
        return f"base=10.{POOL_FIRST_OCTET2 + self.slot}.0.0/16,size=24"

    @property
    def folder(self) -> Path:
        return self.run_dir / f"engine-{self.slot}"

    @property
    def socket(self) -> Path:
        return self.folder / "docker.sock"

    @property
    def tcp_url(self) -> str:
        return f"tcp://{self.address}:{TCP_PORT}"

    @property
    def ssh_url(self) -> str:
        return f"ssh://root@{self.address}:{SSH_PORT}"

    def dockerd_command(self) -> list[str]:
        """dockerd with every path, address and pool of its own, so it shares nothing with the host's.

        Its own config file (empty) keeps /etc/docker/daemon.json out; --iptables stays on:
        its rules go into the namespace's own tables (published ports, inter-network
        isolation), and with no default route there, nothing in it reaches beyond the veth.
        """
        folder = self.folder
        return [
            "dockerd",
            f"--config-file={folder / 'daemon.json'}",
            f"--data-root={folder / 'data'}",
            f"--exec-root={folder / 'exec'}",
            f"--pidfile={folder / 'docker.pid'}",
            f"--host=unix://{self.socket}",
            f"--host={self.tcp_url}",
            "--tls=false",
            f"--bip={self.bridge_ip}",
            f"--default-address-pool={self.address_pool}",
            f"--cgroup-parent={self.name}",
            "--iptables=true",
            "--userland-proxy=false",
            "--storage-driver=overlay2",
            f"--dns={self.address}",  # tools/netns_engine/dns.py: "no such name", at once
        ]

    def in_namespace(self, command: list[str]) -> list[str]:
        """`command` in this namespace's network, with a mount namespace of its own.

        nsenter rather than `ip netns exec`, which remounts /sys and hides the cgroup
        folders dockerd needs; unshare keeps the engine's overlay mounts out of this
        machine's mount table: they go when its last process ends.
        """
        return [
            "nsenter",
            f"--net=/run/netns/{self.name}",
            "--",
            "unshare",
            "--mount",
            "--propagation",
            "slave",
            "--",
            *command,
        ]


def plans(
    tag: str, count: int, run_dir: Path, taken: set[int] | frozenset[int] = frozenset()
) -> list[EnginePlan]:
    """`count` engine plans on the lowest free slots (`taken`: slots whose link network is in use)."""
    if count < 1:
        raise PlanError(f"count {count} must be at least 1")
    free = [slot for slot in range(MAX_SLOTS) if slot not in taken]
    if len(free) < count:
        raise PlanError(f"{count} engines asked for, {len(free)} slots free of {MAX_SLOTS}")
    return [EnginePlan(tag, slot, run_dir) for slot in free[:count]]


def slots_in_use(addresses: list[str]) -> set[int]:
    """Slots whose /30 holds one of `addresses` (this machine's, as `ip -o -4 addr` lists them)."""
    used = set()
    for address in addresses:
        ip = ipaddress.IPv4Interface(address).ip
        if ip in LINK_NETWORK:
            used.add((int(ip) - int(LINK_NETWORK.network_address)) // 4)
    return used


def sshd_config(plan: EnginePlan, *, host_key: Path, authorized_keys: Path, pid_file: Path) -> str:
    """An sshd that lets in only the run's key, as root, and points `docker` at the namespaced engine.

    SetEnv gives the session DOCKER_HOST, so the client's `docker system dial-stdio` on the
    far side reaches this engine, not the machine's own.
    """
    return "\n".join(
        [
            f"ListenAddress {plan.address}:{SSH_PORT}",
            f"HostKey {host_key}",
            f"PidFile {pid_file}",
            f"AuthorizedKeysFile {authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the run folder is under /tmp, which is world-writable
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "MaxStartups 100:30:200",  # one ssh per docker-py connection, per worker
            "MaxSessions 100",
            f"SetEnv DOCKER_HOST=unix://{plan.socket}",
            "",
        ]
    )


def ssh_client_config(plan: EnginePlan, *, identity: Path, known_hosts: Path) -> str:
    """The client side: the run's key, the run's known host, nothing from ~/.ssh.

    One multiplexed connection per engine: docker-py and the compose CLI start an ssh per
    API connection, and a handshake each (~0.3 s, seconds on a loaded machine) made the
    example project's runs time out.
    """
    return "\n".join(
        [
            f"Host {plan.address}",
            "  User root",
            f"  IdentityFile {identity}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {known_hosts}",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  ConnectTimeout 5",
            "  ControlMaster auto",
            f"  ControlPath {known_hosts.parent}/cm-%C",
            "  ControlPersist 60",
            "",
        ]
    )

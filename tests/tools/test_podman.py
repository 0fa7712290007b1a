"""tools.podman: the provisioner's parts that decide what to remove, and how it finds an engine.

The whole provisioner runs in `nox -s podman` (root, apt, iptables); here each
decision it makes is checked on its real inputs' formats, without root.
"""

from __future__ import annotations

import socket
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import podman

IPTABLES_S = """\
-P INPUT ACCEPT
-N NETAVARK_FORWARD
-N NETAVARK-1D8721804F16F
-N DOCKER-USER
-A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD
-A NETAVARK_FORWARD -d 10.89.0.0/24 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-USER -j RETURN
"""


def test_only_netavarks_lines_are_taken() -> None:
    assert podman.netavark_lines(IPTABLES_S) == [
        "-N NETAVARK_FORWARD",
        "-N NETAVARK-1D8721804F16F",
        '-A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD',
        "-A NETAVARK_FORWARD -d 10.89.0.0/24 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]


def test_rules_are_deleted_before_their_chains_are_flushed_then_deleted() -> None:
    commands = podman.netavark_removal("filter", podman.netavark_lines(IPTABLES_S))

    assert commands == [
        ["iptables", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment",
         "netavark firewall plugin rules", "-j", "NETAVARK_FORWARD"],
        ["iptables", "-t", "filter", "-D", "NETAVARK_FORWARD", "-d", "10.89.0.0/24", "-m", "conntrack",
         "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ["iptables", "-t", "filter", "-F", "NETAVARK_FORWARD"],
        ["iptables", "-t", "filter", "-F", "NETAVARK-1D8721804F16F"],
        ["iptables", "-t", "filter", "-X", "NETAVARK_FORWARD"],
        ["iptables", "-t", "filter", "-X", "NETAVARK-1D8721804F16F"],
    ]  # fmt: skip


def test_nothing_of_netavarks_means_nothing_to_run() -> None:
    assert podman.netavark_removal("nat", podman.netavark_lines("-P INPUT ACCEPT\n-N DOCKER\n")) == []


MOUNTS = """\
overlay / overlay rw 0 0
tmpfs /run/microstack-podman tmpfs rw 0 0
overlay /var/lib/microstack-podman/overlay overlay rw 0 0
shm /var/lib/microstack-podman/overlay-containers/abc/userdata/shm tmpfs rw 0 0
tmpfs /var/lib/microstack-podman2 tmpfs rw 0 0
tmpfs /var/lib/microstack-podmanx/y tmpfs rw 0 0
"""


def test_mounts_under_the_folder_deepest_first_and_no_neighbour_with_the_same_prefix() -> None:
    assert podman.mounts_under(MOUNTS, Path("/var/lib/microstack-podman")) == [
        "/var/lib/microstack-podman/overlay-containers/abc/userdata/shm",
        "/var/lib/microstack-podman/overlay",
    ]
    assert podman.mounts_under(MOUNTS, Path("/run/microstack-podman")) == ["/run/microstack-podman"]


def _process(proc: Path, pid: str, comm: str, cmdline: str) -> None:
    (proc / pid).mkdir(parents=True)
    (proc / pid / "comm").write_text(comm + "\n")
    (proc / pid / "cmdline").write_text(cmdline.replace(" ", "\0"))


def test_only_conmons_of_this_storage_are_found(tmp_path: Path) -> None:
    storage = Path("/var/lib/microstack-podman")
    _process(tmp_path, "101", "conmon", f"/usr/bin/conmon --root {storage}/overlay-containers/x")
    _process(tmp_path, "102", "conmon", "/usr/bin/conmon --root /var/lib/containers/storage")
    _process(tmp_path, "103", "podman", f"podman --root {storage}")
    _process(tmp_path, "self", "conmon", f"conmon {storage}")
    (tmp_path / "104").mkdir()  # ended while we looked: no comm any more

    assert podman.conmon_pids(tmp_path, storage) == [101]


def test_dotenv_value(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BASE_IMAGE_TAG=x\nBASE_IMAGE=itest/python:3.11=slim\n")

    assert podman.dotenv_value(dotenv, "BASE_IMAGE") == "itest/python:3.11=slim"
    assert podman.dotenv_value(dotenv, "MISSING") == ""
    assert podman.dotenv_value(tmp_path / "absent", "BASE_IMAGE") == ""


def test_the_configuration_points_into_the_private_folders_only(tmp_path: Path) -> None:
    run, storage = tmp_path / "run", tmp_path / "storage"
    containers = tomllib.loads(podman.containers_conf(run))
    stored = tomllib.loads(podman.storage_conf(run, storage))

    assert containers["engine"]["tmp_dir"] == f"{run}/tmp"
    assert containers["network"]["network_config_dir"] == f"{run}/networks"
    assert containers["engine"]["cgroup_manager"] == "cgroupfs", "no systemd on this kind of machine"
    assert stored["storage"] == {"driver": "overlay", "runroot": f"{run}/runroot", "graphroot": str(storage)}


@pytest.fixture
def unix_server(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A unix socket at a temporary path answering each connection with the next reply given."""
    path = tmp_path / "engine.sock"
    replies: list[bytes] = []
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                connection.recv(4096)
                connection.sendall(replies.pop(0) if replies else b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, replies
    server.close()
    thread.join(timeout=5)


def test_an_engine_answering_ok_on_the_socket_answers(unix_server: tuple[Path, list[bytes]]) -> None:
    path, replies = unix_server
    replies.append(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    assert podman.unix_engine_answers(path) is True


def test_anything_else_on_the_socket_is_no_engine(
    unix_server: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path, replies = unix_server
    replies.append(b"HTTP/1.0 500 Internal Server Error\r\n\r\nnot ready")

    assert podman.unix_engine_answers(path) is False
    assert podman.unix_engine_answers(tmp_path / "no-such.sock") is False

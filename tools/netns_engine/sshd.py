"""The namespace's own servers: an sshd for ssh:// (key pair and known host made for the run), a resolver."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tools.netns_engine.plan import SSH_PORT, EnginePlan, ssh_client_config, sshd_config
from tools.netns_engine.run import RigError, run, stop_process, wait_until

SSHD = "/usr/sbin/sshd"
ROOT = Path(__file__).resolve().parents[2]  # the checkout, for `python -m tools...`
START_TIMEOUT = 20.0


def make_keys(folder: Path) -> tuple[Path, Path]:
    """The run's client key and host key (ed25519, no passphrase): their private key paths."""
    folder.mkdir(parents=True, exist_ok=True)
    client, host = folder / "client_key", folder / "host_key"
    for key in (client, host):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pytest-microstack rig", "-f", str(key)])
    return client, host


def client_files(plans: Sequence[EnginePlan], folder: Path, client_key: Path, host_key: Path) -> Path:
    """ssh_config and known_hosts for all the engines, and an `ssh` that uses them: its folder, for PATH.

    The docker CLI and docker-py run plain `ssh` with what DOCKER_HOST names; ssh reads
    the user's own ~/.ssh from the password database, whatever HOME says. A wrapper first
    on PATH is the one way to hand it the run's files without touching ~/.ssh.
    """
    host_public = host_key.with_suffix(".pub").read_text().split()
    known_hosts = folder / "known_hosts"
    known_hosts.write_text("".join(f"{plan.address} {host_public[0]} {host_public[1]}\n" for plan in plans))
    config = folder / "ssh_config"
    config.write_text(
        "".join(ssh_client_config(p, identity=client_key, known_hosts=known_hosts) for p in plans)
    )
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {config} "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir


def _listening(plan: EnginePlan) -> bool:
    try:
        with socket.create_connection((plan.address, SSH_PORT), timeout=1) as connection:
            return connection.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@contextlib.contextmanager
def resolver(plan: EnginePlan) -> Iterator[EnginePlan]:
    """tools/netns_engine/dns.py on the namespace's address, port 53, for the block's length."""
    command = [
        "nsenter",
        f"--net=/run/netns/{plan.name}",
        "--",
        sys.executable,
        "-m",
        "tools.netns_engine.dns",
    ]
    process = subprocess.Popen([*command, plan.address], cwd=ROOT, start_new_session=True)
    try:
        yield plan
    finally:
        stop_process(process, timeout=5.0)


@contextlib.contextmanager
def sshd(plan: EnginePlan, client_key: Path, host_key: Path) -> Iterator[EnginePlan]:
    """sshd on the namespace's address for the block's length; stopped after."""
    if not Path(SSHD).exists():
        raise RigError(f"{SSHD} is missing: apt-get install openssh-server (the rig starts its own sshd)")
    folder = plan.folder / "sshd"
    folder.mkdir(parents=True, exist_ok=True)
    authorized = folder / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    config = folder / "sshd_config"
    config.write_text(
        sshd_config(plan, host_key=host_key, authorized_keys=authorized, pid_file=folder / "pid")
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    log_path = folder / "sshd.log"
    with log_path.open("wb") as log:
        command = ["nsenter", f"--net=/run/netns/{plan.name}", "--", SSHD, "-D", "-e", "-f", str(config)]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(
            lambda: _listening(plan) or process.poll() is not None,
            timeout=START_TIMEOUT,
            what=f"sshd of {plan.name} to listen on {plan.address}:{SSH_PORT}",
            last=lambda: log_path.read_text(errors="replace")[-500:],
        )
        if process.poll() is not None:
            raise RigError(f"sshd of {plan.name} exited {process.returncode}: {log_path.read_text()[-500:]}")
        yield plan
    finally:
        stop_process(process, timeout=5.0)

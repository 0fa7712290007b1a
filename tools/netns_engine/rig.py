"""The whole rig: N namespaced engines with images and sshd, yielded together and removed together."""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.netns_engine import daemon, namespace, sshd
from tools.netns_engine.plan import PREFIX, EnginePlan, plans, slots_in_use


@dataclass(frozen=True)
class RemoteEngine:
    """One engine of the rig, as a client reaches it."""

    plan: EnginePlan
    setup_seconds: float

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def tcp_url(self) -> str:
        return self.plan.tcp_url

    @property
    def ssh_url(self) -> str:
        return self.plan.ssh_url

    @property
    def address(self) -> str:
        return self.plan.address

    def objects(self) -> dict[str, list[str]]:
        return daemon.objects(self.plan)


@dataclass(frozen=True)
class Rig:
    """The engines, and the folder to put first on PATH for ssh:// (an `ssh` using the run's key)."""

    engines: list[RemoteEngine]
    ssh_path: Path
    run_dir: Path = field(repr=False)


@contextlib.contextmanager
def rig(count: int, images: Sequence[str], log: Callable[[str], None] = print) -> Iterator[Rig]:
    """`count` engines, each in its own namespace with `images` loaded and an sshd; all removed after.

    Every step registers its undo before the next starts, so a failure (or Ctrl-C) at any
    point removes what was made so far, last first.
    """
    run_dir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-rig-"))
    tag = secrets.token_hex(3)[:5]
    engine_plans = plans(tag, count, run_dir, slots_in_use(namespace.host_addresses()))
    with contextlib.ExitStack() as stack:
        stack.callback(_remove_run_dir, run_dir)
        client_key, host_key = sshd.make_keys(run_dir / "keys")
        ssh_path = sshd.client_files(engine_plans, run_dir / "keys", client_key, host_key)
        engines = []
        for plan in engine_plans:
            started = time.monotonic()
            stack.enter_context(namespace.namespace(plan))
            stack.enter_context(sshd.resolver(plan))
            stack.enter_context(daemon.dockerd(plan))
            daemon.load_images(plan, images)
            stack.enter_context(sshd.sshd(plan, client_key, host_key))
            engines.append(RemoteEngine(plan, time.monotonic() - started))
            seconds = engines[-1].setup_seconds
            log(f"engine {plan.name}: {plan.tcp_url} and {plan.ssh_url}, ready in {seconds:.1f} s")
        yield Rig(engines, ssh_path, run_dir)


def _remove_run_dir(run_dir: Path) -> None:
    for folder in run_dir.glob("engine-*"):
        daemon.remove_folder(folder)
    daemon.remove_folder(run_dir)

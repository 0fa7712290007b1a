"""Start-up and teardown of one test stack, as a plain context manager.

Order matters: sweep dead runs' leftovers, read the compose config, build the
images if their digest changed, write the ownership override, then bring the
project up and wait for health. Whatever fails after `up` started, the project
is torn down before the error leaves, with the diagnostics taken first.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testcontainers.core.docker_client import DockerClient

from . import cleanup
from .compose import ProjectCompose
from .config_cache import load_config
from .errors import HarnessError
from .images import ensure_images, image_id, source_digest
from .override import harness_override
from .ownership import CONFIG_LABEL, KEEP_LABEL, Owner, owner_labels, project_name
from .stack import ServiceSpec, Stack
from .sweeper import PROJECT_LABEL, sweep_abandoned

PENDING_TAG = "harness-pending-tag"
SECRET_VARIABLE = "USER_SERVICE_SECRET_KEY"


@dataclass
class StackSettings:
    """Everything that decides which stack a run gets."""

    root: Path
    services: tuple[ServiceSpec, ...]
    run_id: str
    worker: str = "main"
    compose_files: tuple[str, ...] = ("compose.yaml",)
    build_context: str = "services"
    startup_timeout: float = 60.0
    keep: bool = False
    reuse: bool = False
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def project(self) -> str:
        return project_name(self.run_id, self.worker)


def engine_host(client: DockerClient) -> str:
    """Host the published ports are reached on: the engine's host for remote engines."""
    host = client.host()
    return "127.0.0.1" if host == "localhost" else host


def _config_hash(settings: StackSettings, image_tag: str) -> str:
    """Identifies a stack's configuration, for --reuse-stack to match on."""
    digest = hashlib.sha256(image_tag.encode())
    for name in settings.compose_files:
        digest.update((settings.root / name).read_bytes())
    digest.update(json.dumps(sorted(settings.environment.items())).encode())
    return digest.hexdigest()[:16]


def _find_kept_project(engine: Any, config_hash: str) -> str | None:
    running = engine.containers.list(
        filters={"label": [f"{KEEP_LABEL}=true", f"{CONFIG_LABEL}={config_hash}"], "status": "running"}
    )
    return running[0].labels[PROJECT_LABEL] if running else None


@contextmanager
def open_stack(settings: StackSettings) -> Iterator[Stack]:
    """Yield a healthy stack; tear it down afterwards unless it is kept or reused."""
    client = DockerClient()
    engine = client.client
    host = engine_host(client)
    keep = settings.keep or settings.reuse
    sweep_abandoned(engine)
    structure = {"PUBLISH_HOST": "127.0.0.1" if host == "127.0.0.1" else "0.0.0.0", **settings.environment}
    # A fresh secret per run (unless the settings give one); it stays out of the
    # config read for structure, so that read can be cached.
    per_run = {SECRET_VARIABLE: settings.environment.get(SECRET_VARIABLE, secrets.token_urlsafe(32))}

    def compose(files: tuple[str, ...], project: str, tag: str, env: dict[str, str]) -> ProjectCompose:
        return ProjectCompose(
            context=str(settings.root),
            compose_file_name=list(files),
            wait=False,
            project_name=project,
            environment={**env, "IMAGE_TAG": tag},
        )

    environment = {**structure, **per_run}
    config = load_config(
        compose(settings.compose_files, settings.project, PENDING_TAG, structure),
        [settings.root / name for name in settings.compose_files],
    )
    base_images = {
        s.get("build", {}).get("args", {}).get("BASE_IMAGE", "") for s in config["services"].values()
    }
    base_ids = "".join(sorted(image_id(engine, name) for name in base_images if name))
    tag = source_digest(settings.root / settings.build_context, base_ids)
    images = [s["image"].replace(PENDING_TAG, tag) for s in config["services"].values()]
    config_hash = _config_hash(settings, tag)

    if settings.reuse:
        project = _find_kept_project(engine, config_hash)
        if project:
            stack = Stack(
                compose(settings.compose_files, project, tag, environment),
                engine,
                host,
                settings.services,
                settings.startup_timeout,
            )
            stack.wait_until_healthy(timeout=settings.startup_timeout, reason="kept stack not healthy")
            yield stack
            return

    labels = owner_labels(Owner.current(), keep=keep, config_hash=config_hash)
    with tempfile.TemporaryDirectory(prefix=f"{settings.project}-") as workdir:
        override = Path(workdir) / "compose.harness.yaml"
        override.write_text(harness_override(config, labels))
        project_compose = compose(
            (*settings.compose_files, str(override)), settings.project, tag, environment
        )
        ensure_images(project_compose, engine, images)
        stack = Stack(project_compose, engine, host, settings.services, settings.startup_timeout)
        if not keep:
            cleanup.register(stack.project, stack.stop)
        started = handed_to_cleanup = False
        try:
            stack.start()
            started = True
            yield stack
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: our signal handler has started this stack's
            # teardown on a thread; it stays registered, so the atexit backstop
            # waits for it while pytest reports the interrupt.
            handed_to_cleanup = cleanup.started_early(stack.project)
            raise
        finally:
            kept = keep and started  # a stack that never came up is not worth keeping
            if not kept and not handed_to_cleanup:
                cleanup.unregister(stack.project)
                stack.stop()


def sweep_leftovers() -> list[str]:
    """Remove what dead runs left behind on this engine; returns the projects removed."""
    return sweep_abandoned(DockerClient().client)


def describe_kept(stack: Stack) -> str:
    """How to reach and remove a stack left up with --keep-stack."""
    urls = ", ".join(f"{name} {stack.url(name)}" for name in stack.services)
    return (
        f"stack {stack.project} left running: {urls}\n"
        f"  reuse it: pytest --reuse-stack    remove it: docker compose -p {stack.project} down -v"
    )


class ReuseInCIError(HarnessError):
    """--reuse-stack was asked for in CI, where every run must start clean."""

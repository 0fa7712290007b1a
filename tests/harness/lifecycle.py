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


def _compose(
    settings: StackSettings, files: tuple[str, ...], project: str, tag: str, env: dict[str, str]
) -> ProjectCompose:
    return ProjectCompose(
        context=str(settings.root),
        compose_file_name=list(files),
        wait=False,
        project_name=project,
        environment={**env, "IMAGE_TAG": tag},
    )


def _structure(settings: StackSettings, host: str) -> dict[str, str]:
    """The environment that shapes the config; per-run values (the secret) stay out."""
    return {"PUBLISH_HOST": "127.0.0.1" if host == "127.0.0.1" else "0.0.0.0", **settings.environment}


@dataclass(frozen=True)
class ImagePlan:
    """The stack's config, and the tag of its (current) images."""

    config: dict[str, Any]
    tag: str


def current_images(settings: StackSettings, engine: Any, structure: dict[str, str]) -> ImagePlan:
    """Read the (cached) compose config, tag the images by their build inputs, build if missing."""
    config = load_config(
        _compose(settings, settings.compose_files, settings.project, PENDING_TAG, structure),
        [settings.root / name for name in settings.compose_files],
    )
    services = config["services"].values()
    base_images = {s.get("build", {}).get("args", {}).get("BASE_IMAGE", "") for s in services}
    base_ids = "".join(sorted(image_id(engine, name) for name in base_images if name))
    tag = source_digest(settings.root / settings.build_context, base_ids)
    images = [s["image"].replace(PENDING_TAG, tag) for s in services]
    # Builds don't depend on the run's labels or secret: the project's own files do.
    ensure_images(
        _compose(settings, settings.compose_files, settings.project, tag, structure), engine, images
    )
    return ImagePlan(config, tag)


def prepare_images(settings: StackSettings) -> str:
    """The image step of every start, on its own (for benchmarks); returns the tag."""
    client = DockerClient()
    return current_images(settings, client.client, _structure(settings, engine_host(client))).tag


@contextmanager
def open_stack(settings: StackSettings) -> Iterator[Stack]:
    """Yield a healthy stack; tear it down afterwards unless it is kept or reused."""
    client = DockerClient()
    engine = client.client
    host = engine_host(client)
    keep = settings.keep or settings.reuse
    sweep_abandoned(engine)
    structure = _structure(settings, host)
    # A fresh secret per run (unless the settings give one); it stays out of the
    # config read for structure, so that read can be cached.
    per_run = {SECRET_VARIABLE: settings.environment.get(SECRET_VARIABLE, secrets.token_urlsafe(32))}
    environment = {**structure, **per_run}
    plan = current_images(settings, engine, structure)
    config, tag = plan.config, plan.tag
    config_hash = _config_hash(settings, tag)

    if settings.reuse:
        project = _find_kept_project(engine, config_hash)
        if project:
            stack = Stack(
                _compose(settings, settings.compose_files, project, tag, environment),
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
        project_compose = _compose(
            settings, (*settings.compose_files, str(override)), settings.project, tag, environment
        )
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

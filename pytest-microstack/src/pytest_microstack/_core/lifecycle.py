"""Start-up and teardown of one test stack, as a plain context manager.

Order matters: sweep dead runs' leftovers, read the compose config and check it
against the declaration, tag the images by their inputs, write the override,
build what is missing, then bring the project up and wait for readiness.
Whatever fails after `up` started, the project is torn down before the error
leaves, with the diagnostics taken first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_microstack._cleanup.leftovers import sweep_abandoned
from pytest_microstack._core.stack import ComposeStack, Stack
from pytest_microstack._core.teardown import Teardown
from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._engine.config_cache import load_config
from pytest_microstack._engine.config_check import check_config
from pytest_microstack._engine.engine import Engine, connect, require_supported
from pytest_microstack._engine.images import ImagePlan, ensure_images, own_project_name, plan_images
from pytest_microstack._engine.override import harness_override
from pytest_microstack._keep.kept import find_kept_projects, load_record, save_record
from pytest_microstack._keep.lease import holder, take_lease
from pytest_microstack._ownership import Owner, image_labels, owner_labels
from pytest_microstack._settings import ServiceSpec, StackSettings, TeardownPolicy
from pytest_microstack._state_dir import state_dir

if TYPE_CHECKING:
    from pytest_microstack._coverage.combine import Destination
    from pytest_microstack._coverage.measurement import Measurement

BUILD_LOCK = "image-build.lock"
LOG = logging.getLogger(__name__)


def _compose(
    settings: StackSettings, files: tuple[str, ...], project: str, env: dict[str, str]
) -> ProjectCompose:
    return ProjectCompose(
        context=str(settings.root),
        compose_file_name=list(files),
        project_name=project,
        environment=env,
    )


def _config_hash(settings: StackSettings, plan: ImagePlan) -> str:
    """Identifies a stack's configuration, for --reuse-stack to match on.

    Whether it has recording proxies is part of it: a run with doubles can't use a
    kept stack without them, nor one without doubles pay for a kept stack's.
    """
    digest = hashlib.sha256(plan.tag.encode())
    for path in settings.compose_paths:
        digest.update(path.read_bytes())
    digest.update(json.dumps(sorted(settings.environment.items())).encode())
    if settings.exchanges is True:
        digest.update(b"\0exchanges")
    return digest.hexdigest()[:16]


def declared_services(settings: StackSettings, config: Mapping[str, Any]) -> tuple[ServiceSpec, ...]:
    """The declared services; when none are, every service of the compose file.

    Undeclared services are waited for by their Docker healthcheck when they
    have one, else until their container runs.
    """
    if settings.services:
        return settings.services
    return tuple(
        ServiceSpec(name, check="docker" if (spec.get("healthcheck") or {}).get("test") else "running")
        for name, spec in (config.get("services") or {}).items()
    )


def per_run_environment(settings: StackSettings) -> dict[str, str]:
    """The settings' environment plus a fresh value for each secret it doesn't set."""
    fresh = {name: secrets.token_urlsafe(32) for name in settings.secrets if name not in settings.environment}
    return {**settings.environment, **fresh}


def read_config(settings: StackSettings, state: Path) -> dict[str, Any]:
    """The project's compose config (cached), read without the per-run secrets."""
    compose = _compose(settings, settings.compose_files, settings.project, dict(settings.environment))
    return load_config(compose, settings.compose_paths, state)


def prepare_images(settings: StackSettings) -> ImagePlan:
    """The image step of every start, on its own (a CI step, benchmarks): plan, then build what is missing."""
    return prepare_images_with(settings)


def prepare_images_with(settings: StackSettings, engine: Engine | None = None) -> ImagePlan:
    """`prepare_images` on a given engine (default: `connect()`)."""
    engine = engine or connect()
    state = state_dir()
    config = read_config(settings, state)
    plan = plan_images(config, engine.client, own_project_name(settings.compose_paths))
    override = harness_override(config, {}, images=plan.images, image_labels=image_labels(settings.root))
    with tempfile.TemporaryDirectory(dir=state) as workdir:
        path = Path(workdir) / "compose.images.yaml"
        path.write_text(override)
        compose = _compose(
            settings, (*settings.compose_files, str(path)), settings.project, dict(settings.environment)
        )
        ensure_images(compose, engine.client, plan, state / BUILD_LOCK)
    return plan


@dataclass(frozen=True)
class _Prepared:
    """What every start reads first: the compose config, the services, the images and their hash."""

    config: dict[str, Any]
    services: tuple[ServiceSpec, ...]
    plan: ImagePlan
    config_hash: str


def _prepare(settings: StackSettings, engine: Engine, state: Path) -> _Prepared:
    # Dead runs' leftovers are removed while the config is read and the images
    # checked: neither depends on the other, and both are on the critical path.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep") as pool:
        sweep = pool.submit(sweep_abandoned, engine.client)
        config = read_config(settings, state)
        services = declared_services(settings, config)
        check_config(config, services, ", ".join(settings.compose_files))
        plan = plan_images(config, engine.client, own_project_name(settings.compose_paths))
        config_hash = _config_hash(settings, plan)
        sweep.result()
    return _Prepared(config, services, plan, config_hash)


@contextmanager
def open_stack(
    settings: StackSettings, on_start_failure: Callable[[Stack, Exception], None] | None = None
) -> Iterator[Stack]:
    """Yield a healthy stack; afterwards it is removed, kept or released as `Teardown` decides.

    `on_start_failure(stack, error)` runs when start-up fails, before the
    teardown, while the containers can still be looked at (failure reports).
    """
    with open_stack_with(settings, on_start_failure=on_start_failure) as stack:
        yield stack


@contextmanager
def open_stack_with(
    settings: StackSettings,
    engine: Engine | None = None,
    on_start_failure: Callable[[ComposeStack, Exception], None] | None = None,
    coverage: Destination | None = None,
) -> Iterator[ComposeStack]:
    """`open_stack` on a given engine (the plugin's, checked once per run; default: `connect()`).

    With `settings.coverage`, the services are measured and their data goes
    to `coverage` (default: the project's coverage configuration) before removal.
    """
    engine = engine or connect()
    state = state_dir()
    prepared = _prepare(settings, engine, state)
    require_supported(engine.client, builds=bool(prepared.plan.images))
    measurement = None
    if settings.coverage:
        from pytest_microstack._coverage.through_api import measurement_class

        measurement = measurement_class(engine)(settings, engine, state, prepared.config, coverage)
    with ExitStack() as resources:
        stack = None
        if settings.teardown is TeardownPolicy.REUSE:
            stack = _reuse_kept_stack(settings, engine, state, prepared, resources)
        policy = Teardown.for_settings(settings, attached=stack is not None)
        if stack is None:
            stack = _new_stack(settings, engine, state, prepared, policy, resources, measurement)
        with (
            policy.applied(stack, on_start_failure) as running,
            measurement.measuring(running) if measurement else nullcontext(),
        ):
            yield running


def _new_stack(
    settings: StackSettings,
    engine: Engine,
    state: Path,
    prepared: _Prepared,
    policy: Teardown,
    resources: ExitStack,
    measurement: Measurement | None = None,
) -> ComposeStack:
    """A stack not yet started: its override written, its images built; resources live until the end."""
    keep = policy is Teardown.KEEP
    environment = per_run_environment(settings)
    owner = Owner.current()  # once: the labels and the teardown must name the same owner
    labels = owner_labels(owner, keep=keep, config_hash=prepared.config_hash)
    override_text = _override_text(settings, engine, prepared, labels)
    if keep:
        # Leased to this run before it exists: no other run can attach to it meanwhile.
        lease = take_lease(state, settings.project)
        if lease is not None:
            resources.callback(lease.release)
        override = save_record(state, settings.project, override_text, environment).override
    else:
        workdir = resources.enter_context(
            tempfile.TemporaryDirectory(prefix=f"{settings.project}-", dir=state)
        )
        override = Path(workdir) / "compose.harness.yaml"
        override.write_text(override_text)
    compose = _compose(settings, (*settings.compose_files, str(override)), settings.project, environment)
    ensure_images(compose, engine.client, prepared.plan, state / BUILD_LOCK)
    fronts = _wire_exchanges(settings, engine, state, prepared, labels, override)
    if measurement is not None:  # written once the images exist: it keeps their PYTHONPATH
        measured = measurement.write_override(override.parent, prepared.plan.images, labels)
        files = (*settings.compose_files, str(override), str(measured))
        compose = _compose(settings, files, settings.project, environment)
    stack = ComposeStack(
        compose, engine.client, engine.host, prepared.services, settings.stack_timeout, owner
    )
    stack.fronts = fronts
    return stack


def _override_text(
    settings: StackSettings,
    engine: Engine,
    prepared: _Prepared,
    labels: dict[str, str],
    extend: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> str:
    """The harness's override for this stack; `extend` adds the recording proxies."""
    return harness_override(
        prepared.config,
        labels,
        images=prepared.plan.images,
        ports={spec.name: spec.port for spec in prepared.services},
        host_ip=engine.publish_ip,
        parallel_start=settings.parallel_start,
        image_labels=image_labels(settings.root),
        extend=extend,
    )


def _wire_exchanges(
    settings: StackSettings,
    engine: Engine,
    state: Path,
    prepared: _Prepared,
    labels: dict[str, str],
    override: Path,
) -> dict[str, str]:
    """Rewrite the override with the recording proxies (once the images exist: one runs them).

    Returns service -> its proxy's service, for the stack's port lookups.
    """
    from pytest_microstack._engine import proxy_startup as startup

    fronts = startup.plan_fronts(settings.exchanges is True, prepared.services, prepared.config)
    if not fronts:
        return {}
    candidates = startup.candidate_images(
        fronts, prepared.config, prepared.plan.images, settings.exchanges_image
    )
    probe_labels = startup.probe_labels(labels, settings.project)
    image = startup.python_image(
        candidates, lambda name: startup.has_python(engine.client, name, state, probe_labels)
    )
    if image is None:
        startup.turned_off(f"no python3 in {', '.join(candidates) or 'any image of the stack'}")
        return {}
    sidecars = startup.sidecars(
        prepared.config, fronts, image=image, labels=labels, host_ip=engine.publish_ip
    )
    override.write_text(_override_text(settings, engine, prepared, labels, extend=sidecars))
    return {front.service: front.sidecar for front in fronts}


def _reuse_kept_stack(
    settings: StackSettings, engine: Engine, state: Path, prepared: _Prepared, resources: ExitStack
) -> ComposeStack | None:
    """A kept stack of this configuration that no live run is using, leased to this run; else None.

    The compose files, override and environment (secrets) are the recorded
    ones, so `Stack.repair()` recreates its containers as the starter did.
    The lease is released when `resources` closes.
    """
    for project in find_kept_projects(engine.client, prepared.config_hash):
        record = load_record(state, project)
        if record is None:
            continue  # another user's, or its record is gone: it can't be driven as it was started
        lease = take_lease(state, project)
        if lease is None:
            LOG.info("kept stack %s is in use by %s; not reusing it", project, holder(state, project))
            continue
        try:
            compose = _compose(
                settings, (*settings.compose_files, str(record.override)), record.project, record.environment
            )
            stack = ComposeStack(
                compose, engine.client, engine.host, prepared.services, settings.stack_timeout
            )
            stack.fronts = _fronts_of(record.override)
            stack.wait_until_healthy(timeout=settings.stack_timeout, reason="kept stack not healthy")
        except BaseException:
            lease.release()
            raise
        resources.callback(lease.release)
        return stack
    return None


def _fronts_of(override: Path) -> dict[str, str]:
    """The proxies a kept stack's override wired in (service -> its proxy's service)."""
    from pytest_microstack._engine.proxy_wiring import fronts_in

    return {service: front.sidecar for service, front in fronts_in(override.read_text()).items()}


def sweep_leftovers(engine: Engine | None = None) -> list[str]:
    """Remove what dead runs left behind on this engine; returns the projects removed."""
    return sweep_abandoned((engine or connect()).client)

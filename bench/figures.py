"""The figures measured in this process, on the real engine: floor, compose, harness start, builds,
faults and idle CPU. Figures that run a child pytest are in `sessions`."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import cache, partial
from pathlib import Path
from typing import Any

import docker
import requests
from pytest_microstack import Faults, StackSettings, TeardownPolicy, open_stack, prepare_images, read_settings

from tests.support.sqlite_fault import make_database_unreadable

from .children import ROOT, environment, run, shown
from .engine_state import new_run_id, wait_for_fixed_ports, wait_until_project_removed
from .timing import PERCENT_CORE, Figure, stopwatch

SECRET = secrets.token_urlsafe(32)
SECRET_SHOWN = {"USER_SERVICE_SECRET_KEY": "<random>"}
RANDOM_LOCAL_PORT: Any = {"5000/tcp": ("127.0.0.1", None)}  # None: the engine picks the host port
SETTINGS_CODE = "read_settings(Path('pytest.ini'), run_id=new_run_id(), worker='bench')"
COMPOSE = ["docker", "compose", "-f", "compose.yaml"]
FAULT_KINDS = ("down", "crash", "hang", "slow", "partition", "erroring")
SLOW_SECONDS = 0.5


@cache
def client() -> docker.DockerClient:
    return docker.from_env()


def settings() -> StackSettings:
    """The settings the tests declare in pytest.ini, for a stack of the benchmark's own.

    Torn down in place unless a figure says otherwise, so its removal never overlaps the next figure.
    """
    current = read_settings(ROOT / "pytest.ini", run_id=new_run_id(), worker="bench")
    current.teardown = TeardownPolicy.WAIT
    return current


def compose_environment(**extra: str) -> dict[str, str]:
    """For compose.yaml as written: a secret (the file requires one) and only the `extra` settings."""
    env = environment(extra={"USER_SERVICE_SECRET_KEY": SECRET, **extra})
    if "HEALTHCHECK_INTERVAL" not in extra:
        env.pop("HEALTHCHECK_INTERVAL", None)  # "as written": the file's own default
    return env


@cache
def ensure_dev_images() -> None:
    """Build compose.yaml's own image names (`:dev`) once, untimed: its figures are for warm images."""
    run([*COMPOSE, "build", "--quiet"], compose_environment())


def _poll_200(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while time.monotonic() < deadline:
            try:
                if session.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.005)  # the measurement's own polling interval: its resolution
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


def user_service_image() -> str:
    """Build the images if needed (as a session would) and give user-service's image."""
    return prepare_images(settings()).images["user-service"]


def floor(image: str, runs: int) -> Figure:
    """One service container from `docker run` to its first 200: what the engine and gunicorn cost."""
    figure = Figure(
        "floor",
        "floor: one container, run → first 200",
        f"docker-py: containers.run({image!r}, detach=True, init=True, "
        "ports={'5000/tcp': ('127.0.0.1', None)}), then GET /health every 5 ms until 200",
        group="start-up",
        note="user-service's image as the harness tags it",
        resolution="5 ms polling",
    )
    for _ in range(runs):
        started = time.perf_counter()
        container: Any = client().containers.run(
            image,
            detach=True,
            init=True,
            ports=RANDOM_LOCAL_PORT,
            environment={"SECRET_KEY": SECRET, "DATABASE_PATH": "/tmp/users.db"},
        )
        try:
            container.reload()
            port = container.attrs["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"]
            _poll_200(f"http://127.0.0.1:{port}/health")
            figure.samples.append(time.perf_counter() - started)
        finally:
            container.remove(force=True, v=True)
    return figure


def compose_up_wait(runs: int, interval: str | None = None) -> Figure:
    """`docker compose up -d --wait` on compose.yaml as written (its fixed ports), one at a time."""
    ensure_dev_images()
    extra = {"HEALTHCHECK_INTERVAL": interval} if interval else {}
    env = compose_environment(**extra)
    figure = Figure(
        f"up-wait-{interval}" if interval else "up-wait",
        f"`docker compose up -d --wait`, {(interval or '2s').replace('s', ' s')} healthchecks",
        shown([*COMPOSE, "-p", "bench-upwait-N", "up", "-d", "--wait"], {**SECRET_SHOWN, **extra}),
        group="start-up",
        note="compose.yaml as written" if not interval else "compose's fastest healthchecks here",
    )
    for number in range(runs):
        project = f"bench-upwait-{number}-{secrets.token_hex(2)}"
        base = [*COMPOSE, "-p", project]
        wait_for_fixed_ports(client())
        try:
            figure.samples.append(stopwatch(partial(run, [*base, "up", "-d", "--wait"], env)))
        finally:
            run([*base, "down", "-v", "-t", "0"], env)
    return figure


def harness_start_and_teardown(runs: int) -> tuple[Figure, Figure, Figure]:
    """The harness's start to all healthy, and its teardown both ways, called as code in this process.

    Each run starts two stacks: one torn down in place (wait_for_teardown=True,
    what a run with CI set does) and one handed to the detached reaper (False,
    the default without CI), whose removal is waited for outside the figure.
    """
    start = Figure(
        "harness-start",
        "harness start → all healthy",
        f"open_stack({SETTINGS_CODE}).__enter__()",
        group="start-up",
        note="sweep, config, image check, up, readiness of every service",
    )
    teardown = {
        wait: Figure(
            "harness-teardown" if wait else "harness-handoff",
            "harness teardown, waited: containers, network, volumes removed"
            if wait
            else "harness teardown handed to the reaper",
            f"open_stack(settings with wait_for_teardown={wait}).__exit__(None, None, None)",
            group="start-up",
            note="as with CI set" if wait else "as without CI: until the exit returns",
        )
        for wait in (True, False)
    }
    for _ in range(runs):
        for wait, figure in teardown.items():
            current = settings()
            current.teardown = TeardownPolicy.WAIT if wait else TeardownPolicy.REAPER
            context = open_stack(current)
            start.samples.append(stopwatch(context.__enter__))
            figure.samples.append(stopwatch(partial(context.__exit__, None, None, None)))
            wait_until_project_removed(client(), current.project)
    return start, teardown[True], teardown[False]


def coverage_start_and_teardown(runs: int) -> tuple[Figure, Figure]:
    """The harness's start and waited teardown with StackSettings.coverage (--stack-coverage) on.

    Compare with harness-start and harness-teardown: the start adds the runtime mount,
    the override written after the image check and each service's marker check; the
    teardown adds a graceful stop (every process saves) and the path mapping. The
    data files it writes beside the project's .coverage are removed after each run.
    """
    start = Figure(
        "harness-start-coverage",
        "harness start → all healthy, --stack-coverage",
        f"open_stack(replace({SETTINGS_CODE}, coverage=True)).__enter__()",
        group="start-up",
        note="compare harness-start: coverage mounted and started in every service",
    )
    teardown = Figure(
        "harness-teardown-coverage",
        "harness teardown, waited, --stack-coverage: graceful stop, data mapped, removed",
        "open_stack(replace(settings, coverage=True)).__exit__(None, None, None)",
        group="start-up",
        note="compare harness-teardown",
    )
    for _ in range(runs):
        current = replace(settings(), coverage=True)
        context = open_stack(current)
        start.samples.append(stopwatch(context.__enter__))
        teardown.samples.append(stopwatch(partial(context.__exit__, None, None, None)))
        wait_until_project_removed(client(), current.project)
        for written in ROOT.glob(f".coverage.microstack.{current.run_id}-*"):
            written.unlink()
    return start, teardown


def warm_builds(image: str, runs: int) -> tuple[Figure, Figure]:
    """Rebuild with nothing changed: the harness's digest check, and compose's cached build."""
    ensure_dev_images()
    ours = Figure(
        "rebuild-harness",
        "warm rebuild, nothing changed: the harness's image step",
        f"prepare_images({SETTINGS_CODE})",
        group="builds",
        note="cached config, digest of build context + base image, lock, image check; no build runs",
    )
    compose = Figure(
        "rebuild-compose",
        "warm rebuild, nothing changed: compose",
        shown([*COMPOSE, "build", "--quiet"]),
        group="builds",
        note="layer cache, for comparison",
    )
    current = settings()

    def harness_check() -> None:
        if prepare_images(current).images["user-service"] != image:
            raise RuntimeError("the images changed while measuring")

    for _ in range(runs):
        ours.samples.append(stopwatch(harness_check))
        compose.samples.append(stopwatch(partial(run, [*COMPOSE, "build", "--quiet"], compose_environment())))
    return ours, compose


def cold_build(runs: int) -> Figure:
    """Both images built with no layer cache (the base image present), under names of their own."""
    names = {service: f"microstack-bench/{service}:cold" for service in ("user-service", "product-service")}
    override = "services:\n" + "".join(f"  {s}:\n    image: {name}\n" for s, name in names.items())
    figure = Figure(
        "cold-build",
        "cold build of both images",
        shown([*COMPOSE, "-f", "<override: image names microstack-bench/*:cold>", "build", "--no-cache"]),
        group="builds",
        note="base image present; own image names, removed afterwards",
    )
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "compose.cold.yaml"
        path.write_text(override)
        for _ in range(runs):
            try:
                build = [*COMPOSE, "-f", str(path), "build", "--no-cache"]
                figure.samples.append(stopwatch(partial(run, build, compose_environment())))
            finally:
                subprocess.run(["docker", "image", "rm", *names.values()], capture_output=True, check=False)
    return figure


def fault_times(runs: int) -> list[Figure]:
    """Each fault's time to inject and to heal (healed: undone and /health answering 200 again)."""

    def call(kind: str) -> str:
        return (
            f"faults.slow('user-service', {SLOW_SECONDS})"
            if kind == "slow"
            else f"faults.{kind}('user-service')"
        )

    inject = {
        kind: Figure(
            f"fault-{kind}-inject",
            f"fault {kind}: inject",
            call(kind),
            group="faults",
            note="faults = Faults(stack), on a stack of open_stack()",
        )
        for kind in FAULT_KINDS
    }
    heal = {
        kind: Figure(
            f"fault-{kind}-heal",
            f"fault {kind}: heal",
            f"{call(kind)}.heal()",
            group="faults",
            note="undo, then /health 200",
        )
        for kind in FAULT_KINDS
    }
    current = settings()
    with open_stack(current) as stack:
        faults = Faults(stack)
        faults.register("erroring", make_database_unreadable)
        for _ in range(runs):
            for kind in FAULT_KINDS:
                fault = (
                    faults.slow("user-service", SLOW_SECONDS)
                    if kind == "slow"
                    else getattr(faults, kind)("user-service")
                )
                fault.heal()
                inject[kind].samples.append(fault.inject_seconds)
                heal[kind].samples.append(fault.heal_seconds or 0.0)
    wait_until_project_removed(client(), current.project)
    return [figure for kind in FAULT_KINDS for figure in (inject[kind], heal[kind])]


def _busy_ticks() -> int:
    """Busy CPU time of the whole host since boot, in clock ticks (USER_HZ), all cores summed."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle


def _cpu_percent(window: float) -> float:
    before = _busy_ticks()
    time.sleep(window)  # the sampling window
    return 100 * (_busy_ticks() - before) / os.sysconf("SC_CLK_TCK") / window


def idle_cpu(window: float, windows: int = 3) -> Iterator[Figure]:
    """Host CPU while idle, without a stack and with one: the stack's idle cost, % of one core.

    For the test stack (Docker healthcheck every 30 s; the harness polls
    itself) and for the development defaults (every 2 s). Each sample is one
    window's busy time minus the median of the no-stack windows, unclamped: a
    negative sample is noise, and the resolution says how coarse a window is.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    resolution = (
        f"{100 / ticks / window:.2f} % of a core: /proc/stat counts in ticks of 1/{ticks} s "
        f"(USER_HZ), {window:g} s windows; the whole host is sampled, so other processes add noise"
    )
    baseline = Figure(
        "idle-host",
        "idle host, no stack",
        f"/proc/stat busy ticks over {windows} x {window:g} s",
        group="idle",
        unit=PERCENT_CORE,
        resolution=resolution,
        samples=[_cpu_percent(window) for _ in range(windows)],
    )
    yield baseline
    test_interval = settings().environment.get("HEALTHCHECK_INTERVAL", "2s")
    for key, label, interval in (
        ("idle-test", "test stack", test_interval),
        ("idle-dev", "dev defaults", "2s"),
    ):
        current = settings()
        current.environment["HEALTHCHECK_INTERVAL"] = interval
        with open_stack(current):
            time.sleep(3)  # let start-up's own work end before sampling
            samples = [_cpu_percent(window) for _ in range(windows)]
        wait_until_project_removed(client(), current.project)
        yield Figure(
            f"{key}",
            f"idle stack cost, {label}",
            f"open_stack(settings with HEALTHCHECK_INTERVAL={interval}); /proc/stat over {windows} x "
            f"{window:g} s, minus the no-stack median",
            group="idle",
            unit=PERCENT_CORE,
            note=f"Docker healthcheck every {interval}",
            resolution=resolution,
            samples=[sample - baseline.median for sample in samples],
        )

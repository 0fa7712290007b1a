"""Each benchmark figure, measured on the real engine."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import requests
from pytest_microstack.faults import Faults
from pytest_microstack.lifecycle import open_stack, prepare_images
from pytest_microstack.ownership import OWNER_LABEL, new_run_id
from pytest_microstack.removal import remove_project
from pytest_microstack.settings import StackSettings, settings_from_ini_file
from testcontainers.core.docker_client import DockerClient

from tests.support.sqlite_fault import make_database_unreadable

from .timing import Figure, stopwatch

ROOT = Path(__file__).resolve().parents[1]

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
ONE_TEST = "tests/scenarios/test_new_seller_lists_a_product.py::test_listing_without_logging_in_is_refused"
SECRET = secrets.token_urlsafe(32)
RANDOM_LOCAL_PORT: Any = {"5000/tcp": ("127.0.0.1", None)}  # None: the engine picks the host port


def _engine() -> DockerClient:
    return DockerClient()


def _settings() -> StackSettings:
    """The settings the tests declare in pytest.ini, for a stack of the benchmark's own."""
    return settings_from_ini_file(ROOT / "pytest.ini", run_id=new_run_id(), worker="bench")


TEST_ENVIRONMENT = _settings().environment


def _compose_env(tag: str) -> dict[str, str]:
    return {**os.environ, "USER_SERVICE_SECRET_KEY": SECRET}


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def _poll_200(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while time.monotonic() < deadline:
            try:
                if session.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.005)  # polling interval of the measurement itself
    raise TimeoutError(url)


def image_tag() -> str:
    """Build the images if needed (as a session would) and give user-service's image."""
    return prepare_images(_settings()).images["user-service"]


def floor(tag: str, runs: int) -> Figure:
    """(1) One service container from `docker run` to its first 200."""
    engine = _engine().client
    figure = Figure("1 floor: one container, run -> first 200", note="user-service image, docker-py run")
    for _ in range(runs):
        started = time.perf_counter()
        container = engine.containers.run(
            tag,
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


def compose_up_wait(tag: str, runs: int, interval: str | None = None) -> Figure:
    """(2) `docker compose up -d --wait`, as a developer would, with its healthchecks."""
    env = _compose_env(tag)
    if interval:
        env["HEALTHCHECK_INTERVAL"] = interval
        figure = Figure(
            f"2b docker compose up -d --wait, {interval} healthchecks", note="fastest compose can do"
        )
    else:
        figure = Figure("2 docker compose up -d --wait", note="compose.yaml as written (2 s healthchecks)")
    for number in range(runs):
        project = f"bench-upwait-{number}-{secrets.token_hex(2)}"
        base = ["docker", "compose", "-f", "compose.yaml", "-p", project]
        try:
            figure.samples.append(stopwatch(partial(_run, [*base, "up", "-d", "--wait"], env)))
        finally:
            _run([*base, "down", "-v", "-t", "0"], env)
    return figure


def harness_start_and_teardown(runs: int) -> tuple[Figure, Figure]:
    """(3) Our start to all-healthy and (4) our teardown."""
    start = Figure(
        "3 harness start -> all healthy", note="open_stack(): sweep, config, image check, up, health"
    )
    teardown = Figure("4 harness teardown", note="containers, network, volumes removed")
    for _ in range(runs):
        context = open_stack(_settings())
        start.samples.append(stopwatch(context.__enter__))
        teardown.samples.append(stopwatch(partial(context.__exit__, None, None, None)))
    return start, teardown


def one_test_session(runs: int) -> tuple[Figure, Figure]:
    """(5) A one-test pytest session end to end: ours against plain Testcontainers."""
    ours_command = [*PYTEST, ONE_TEST]
    plain_command = [*PYTEST, "--noconftest", "-W", "default", "bench/plain_testcontainers_session.py"]
    ours = Figure("5a one-test session, this harness", note="pytest process, end to end")
    plain = Figure(
        "5b one-test session, plain Testcontainers",
        note="DockerCompose(build=True, wait=True), same compose file, 1 s healthchecks",
    )
    # The comparison gets compose's fastest healthchecks (1 s), not the 2 s default.
    plain_env = {**os.environ, "HEALTHCHECK_INTERVAL": "1s"}
    for command in (ours_command, plain_command):  # warm-up: image tags, caches
        _run(command, plain_env)
    for _ in range(runs):
        ours.samples.append(stopwatch(partial(_run, ours_command)))
        plain.samples.append(stopwatch(partial(_run, plain_command, plain_env)))
    return ours, plain


def warm_builds(tag: str, runs: int) -> tuple[Figure, Figure]:
    """(6) Rebuild with nothing changed: the harness's digest check, and compose's cached build."""
    ours = Figure(
        "6a warm rebuild, harness (digest check)",
        note="the start's image step: cached config, digest, lock, image check; no build runs",
    )
    compose = Figure("6b warm rebuild, docker compose build", note="layer cache, for comparison")

    settings = _settings()

    def harness_check() -> None:
        if prepare_images(settings).images["user-service"] != tag:
            raise RuntimeError("the images changed while measuring")

    for _ in range(runs):
        ours.samples.append(stopwatch(harness_check))
        compose.samples.append(
            stopwatch(
                lambda: _run(
                    ["docker", "compose", "-f", "compose.yaml", "build", "--quiet"], _compose_env(tag)
                )
            )
        )
    return ours, compose


def cold_build(runs: int) -> Figure:
    """(6) Both images built with no layer cache (the base image already present)."""
    figure = Figure("6c cold build, both images", note="docker compose build --no-cache")
    for number in range(runs):
        tag = f"bench-cold-{number}"
        env = _compose_env(tag)
        try:
            build = ["docker", "compose", "-f", "compose.yaml", "build", "--no-cache"]
            figure.samples.append(stopwatch(partial(_run, build, env)))
        finally:
            for service in ("user-service", "product-service"):
                subprocess.run(
                    ["docker", "image", "rm", f"microstack/{service}:{tag}"], capture_output=True, check=False
                )
    return figure


def integration_suite(runs: int) -> tuple[Figure, Figure]:
    """(7) The integration suite on one worker against two."""
    serial = Figure("7a integration suite, -n 1", note="pytest -m integration tests, one worker")
    parallel = Figure("7b integration suite, -n 2", note="two workers, a stack each")
    for _ in range(runs):
        serial.samples.append(stopwatch(partial(_run, [*PYTEST, "-m", "integration", "-n", "1", "tests"])))
        parallel.samples.append(stopwatch(partial(_run, [*PYTEST, "-m", "integration", "-n", "2", "tests"])))
    return serial, parallel


def xdist_worker_overhead(runs: int) -> tuple[Figure, Figure]:
    """Two quick tests on one xdist worker (one stack) against two workers (a stack each)."""
    tests = [
        "tests/scenarios/test_new_seller_lists_a_product.py::test_listing_without_logging_in_is_refused",
        "tests/test_inter_service_flow.py::test_validate_user_goes_through_user_service",
    ]
    one = Figure("7c two tests, -n 1", note="one worker, one stack")
    two = Figure("7d two tests, -n 2", note="two workers, a stack each: d - c = cost of a worker")
    for _ in range(runs):
        one.samples.append(stopwatch(partial(_run, [*PYTEST, "-n", "1", *tests])))
        two.samples.append(stopwatch(partial(_run, [*PYTEST, "-n", "2", "--dist", "load", *tests])))
    return one, two


def fault_times(runs: int) -> list[Figure]:
    """(8) Each fault's time to inject and to heal (healed = health answers 200 again)."""
    kinds = ("down", "crash", "hang", "slow", "partition", "erroring")
    inject = {kind: Figure(f"8 fault {kind}: inject") for kind in kinds}
    heal = {kind: Figure(f"8 fault {kind}: heal", note="undo + health 200") for kind in kinds}
    with open_stack(_settings()) as stack:
        faults = Faults(stack)
        faults.register("erroring", make_database_unreadable)
        for _ in range(runs):
            for kind in kinds:
                fault = (
                    faults.slow("user-service", 0.5)
                    if kind == "slow"
                    else getattr(faults, kind)("user-service")
                )
                fault.heal()
                inject[kind].samples.append(fault.inject_seconds)
                heal[kind].samples.append(fault.heal_seconds or 0.0)
    return [figure for kind in kinds for figure in (inject[kind], heal[kind])]


def _leftovers_of(engine: object, pid: int) -> int:
    client = engine  # docker-py client
    marker = f"@{pid}:"
    label = {"label": OWNER_LABEL}
    found = [
        *client.containers.list(all=True, filters=label),  # type: ignore[attr-defined]
        *client.networks.list(filters=label),  # type: ignore[attr-defined]
        *client.volumes.list(filters=label),  # type: ignore[attr-defined]
    ]
    labels = (getattr(r, "labels", None) or r.attrs.get("Labels") or {} for r in found)
    return sum(1 for item in labels if marker in item.get(OWNER_LABEL, ""))


def interrupt_during_startup(runs: int) -> tuple[Figure, Figure]:
    """Ctrl-C at spread moments of a session's start-up: time to exit, and what is left."""
    engine = _engine().client
    exit_time = Figure("ctrl-c during start-up: exit", note="SIGINT at 0.5-2.5 s after pytest starts")
    leftovers = Figure("ctrl-c during start-up: resources left", unit="count")
    sample = ROOT / "bench" / "sample_hold_stack.py"
    for number in range(runs):
        delay = 0.5 + 2.0 * number / max(1, runs - 1)
        with tempfile.TemporaryDirectory() as workdir:
            env = {**os.environ, "HOLD_STACK_REPORT": str(Path(workdir) / "project")}
            child = subprocess.Popen(
                [*PYTEST, str(sample)],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)  # the moment of the interrupt is the variable measured here
            signalled = time.perf_counter()
            os.killpg(child.pid, signal.SIGINT)
            child.wait(timeout=60)
            exit_time.samples.append(time.perf_counter() - signalled)
            leftovers.samples.append(float(_leftovers_of(engine, child.pid)))
    return exit_time, leftovers


def _busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_percent(seconds: float) -> float:
    before = _busy_seconds()
    time.sleep(seconds)  # sampling window
    return 100 * (_busy_seconds() - before) / seconds


def idle_cpu(seconds: float) -> Iterator[Figure]:
    """Host CPU while idle, without and with a stack up: the stack's idle cost, % of one core.

    Measured for the test stack (Docker healthcheck every 30 s, the harness
    polls itself) and for the development defaults (every 2 s).
    """
    windows = 3
    baseline = Figure("idle host, no stack", unit="% core")
    baseline.samples = [_cpu_percent(seconds / windows) for _ in range(windows)]
    yield baseline
    for label, interval in (("test stack", TEST_ENVIRONMENT["HEALTHCHECK_INTERVAL"]), ("dev defaults", "2s")):
        settings = _settings()
        settings.environment["HEALTHCHECK_INTERVAL"] = interval
        with open_stack(settings):
            time.sleep(3)  # let start-up work settle before sampling
            samples = [_cpu_percent(seconds / windows) for _ in range(windows)]
        cost = Figure(
            f"idle stack cost, {label}", unit="% core", note=f"healthcheck every {interval}, minus no stack"
        )
        cost.samples = [max(0.0, a - b) for a, b in zip(samples, baseline.samples, strict=True)]
        yield cost


def ratios(medians: dict[str, float]) -> dict[str, float]:
    """Ratios measured side by side in this run."""
    pairs = {
        "harness start / compose up --wait": (
            "3 harness start -> all healthy",
            "2 docker compose up -d --wait",
        ),
        "one-test session: harness / plain Testcontainers": (
            "5a one-test session, this harness",
            "5b one-test session, plain Testcontainers",
        ),
        "suite -n 2 / -n 1": ("7b integration suite, -n 2", "7a integration suite, -n 1"),
        "two tests -n 2 / -n 1": ("7d two tests, -n 2", "7c two tests, -n 1"),
        "harness start / floor": (
            "3 harness start -> all healthy",
            "1 floor: one container, run -> first 200",
        ),
    }
    return {name: medians[a] / medians[b] for name, (a, b) in pairs.items() if a in medians and b in medians}


def remove_leftover(project: str) -> None:
    """Remove a project by name (used when a measurement is interrupted)."""
    remove_project(_engine().client, project)

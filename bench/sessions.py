"""Figures of whole pytest sessions, each run as a child process and timed from outside it.

Every session runs with `CI` unset unless its figure says CI=true, and the
next sample starts only once the previous one's stack is off the engine (a
detached teardown would otherwise overlap the next measurement).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from .children import PYTEST, ROOT, ChildFailed, Finished, environment, shown, timed, wait_or_dump
from .engine_state import (
    POLL_SECONDS,
    RUN_ID_ENV,
    new_run_id,
    run_resources,
    wait_for_fixed_ports,
    wait_until_run_removed,
)
from .figures import client
from .timing import COUNT, SECONDS, YES_NO, Figure

ONE_TEST = "tests/scenarios/test_new_seller_lists_a_product.py::test_listing_without_logging_in_is_refused"
OURS = [*PYTEST, ONE_TEST]
# Plain Testcontainers, without this plugin: its own ini (ours declares the plugin's keys).
PLAIN = [
    *PYTEST,
    "-c",
    "bench/plain_pytest.ini",
    "-p",
    "no:microstack",
    "--noconftest",
    "bench/plain_testcontainers_session.py",
]
CLOCK = [*PYTEST, "-p", "bench.last_test_clock", ONE_TEST]
# A one-test run that starts no stack: pytest's start-up in this repository's .venv.
NO_STACK = [*PYTEST, "tests/ci/test_junit_report.py::test_a_test_no_shard_ran_fails_the_report_naming_it"]
# The plain baseline loads no plugin at all: what a team without ours would run.
NO_AUTOLOAD = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
SERVICE_TESTS = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob("services/*/tests"))
IMPORT_PROBE = [*PYTEST, "-p", "bench.import_probe", *SERVICE_TESTS]
# What `nox -s integration` runs: the load run is a session of its own.
SUITE = [*PYTEST, "-m", "integration and not load", "tests"]
# pytest-cov over the services' packages, reports off, never failing the figure on the minimum.
COVERAGE_ARGS = [
    *(f"--cov=services/{name}/src" for name in ("servicekit", "user-service", "product-service")),
    "--cov-report=",
    "--cov-fail-under=0",
]
TWO_TESTS = [ONE_TEST, "tests/test_inter_service_flow.py::test_validate_user_goes_through_user_service"]
# The plugin's own sample (its signal tests run it too), without the plugin tests' conftests.
HOLD = [*PYTEST, "--noconftest", "pytest-microstack/tests/engine/sample_hold_stack.py"]
REMOVAL_RESOLUTION = f"{POLL_SECONDS:g} s polling of the engine"
#: Ctrl-C during start-up must end the run by then; past it the child's stacks are kept (ChildFailed).
INTERRUPT_EXIT_BOUND = 60.0
RESOLUTIONS = {
    "removed-after-exit": REMOVAL_RESOLUTION,
    "pipe-held": "EOF and exit are seen by two threads; tens of ms are scheduling noise",
}


def _session(command: list[str], extra: Mapping[str, str] | None = None) -> Finished:
    """One measured session (CI unset); returns once its stack (if any) is off the engine."""
    run_id = new_run_id()
    finished = timed(command, environment(extra={**(extra or {}), RUN_ID_ENV: run_id}))
    wait_until_run_removed(client(), run_id)
    return finished


def _plain(build: bool) -> Finished:
    """The plain-Testcontainers session; it uses compose.yaml's fixed ports, so it waits its turn."""
    wait_for_fixed_ports(client())
    return _session(PLAIN, _plain_extra(build))


def _plain_extra(build: bool) -> dict[str, str]:
    return {"BENCH_PLAIN_BUILD": "1" if build else "0", "HEALTHCHECK_INTERVAL": "1s", **NO_AUTOLOAD}


def no_stack_run(runs: int) -> Figure:
    """One test that uses no stack: what every pytest run here pays before any test of its own."""
    figure = Figure(
        "no-stack",
        "one-test run with no stack, in .venv",
        shown(NO_STACK),
        group="sessions",
        note="CI unset; spawn → process exit; plugins as pytest.ini loads them",
    )
    for _ in range(2):  # warm-up: bytecode caches, and any reaper of an earlier figure done
        _session(NO_STACK)
    for _ in range(runs):
        figure.samples.append(_session(NO_STACK).seconds)
    return figure


def one_test_session(runs: int) -> tuple[Figure, Figure, Figure]:
    """A one-test session end to end: this harness against plain Testcontainers, built and not."""
    ours = Figure(
        "one-test",
        "one-test session, this harness",
        shown(OURS),
        group="sessions",
        note="CI unset; spawn → process exit",
    )
    plain = {
        build: Figure(
            "plain-build" if build else "plain-no-build",
            f"one-test session, plain Testcontainers DockerCompose(build={build}, wait=True)",
            shown(PLAIN, _plain_extra(build)),
            group="sessions",
            note="same compose file, 1 s healthchecks, fixed ports, no pytest plugin autoloaded",
        )
        for build in (True, False)
    }
    _session(OURS)  # warm-up, untimed: image tags, config cache, compose's own caches
    _plain(build=True)  # also builds compose.yaml's `:dev` images that build=False starts
    for _ in range(runs):
        ours.samples.append(_session(OURS).seconds)
        for build, figure in plain.items():
            figure.samples.append(_plain(build).seconds)
    return ours, plain[True], plain[False]


def _read_clock(path: Path) -> dict[str, float]:
    clock: dict[str, float] = json.loads(path.read_text())
    if "last_call_reported" not in clock:
        raise RuntimeError(f"the clock plugin saw no test call: {clock}")
    return clock


def _exit_figures(ci: bool) -> dict[str, Figure]:
    mode, suffix = ("CI=true", "ci") if ci else ("CI unset", "local")
    command = shown(CLOCK, {"CI": "true"} if ci else None)
    titles = {
        "exit": ("end of the last test → process exit", "last call phase reported → waitpid", SECONDS),
        "exit-after-teardown": (
            "last test's teardown done → process exit",
            "from its logfinish, after the session fixtures' teardown, to waitpid",
            SECONDS,
        ),
        "exit-after-unconfigure": ("pytest_unconfigure → process exit", "", SECONDS),
        "pipe-held": (
            "output pipe held open after the process exit",
            "a caller reading the output, as CI does, waits this much longer; 0: closed with the process",
            SECONDS,
        ),
        "left-at-exit": ("stack resources left at process exit", "containers, networks, volumes", COUNT),
        "removed-after-exit": ("process exit → its stack gone from the engine", "", SECONDS),
        "one-test-clock": ("one-test session with the clock plugin", "spawn → exit", SECONDS),
    }
    return {
        name: Figure(
            f"{name}-{suffix}",
            f"{title} ({mode})",
            command,
            group="exit",
            unit=unit,
            note=note,
            resolution=RESOLUTIONS.get(name, ""),
        )
        for name, (title, note, unit) in titles.items()
    }


def _exit_samples(ci: bool, runs: int) -> list[Figure]:
    figures = _exit_figures(ci)
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "clock.json"
        env = environment(ci=ci, extra={"BENCH_CLOCK_FILE": str(path)})
        for number in range(runs + 1):  # the first is a warm-up
            run_id = new_run_id()
            finished = timed(CLOCK, {**env, RUN_ID_ENV: run_id}, pipe=True)
            left = run_resources(client(), run_id)
            wait_until_run_removed(client(), run_id)
            gone_at = time.time()
            if number == 0:
                continue
            clock = _read_clock(path)
            samples = {
                "exit": finished.exited_at - clock["last_call_reported"],
                "exit-after-teardown": finished.exited_at - clock["last_test_finished"],
                "exit-after-unconfigure": finished.exited_at - clock["unconfigured"],
                "left-at-exit": float(left),
                "removed-after-exit": gone_at - finished.exited_at,
                "one-test-clock": finished.seconds,
            }
            if finished.output_closed_at is not None:
                # The EOF is often seen a few ms before waitpid returns: by definition it can't be held
                # for less than nothing, so that scheduling noise counts as 0.
                samples["pipe-held"] = max(0.0, finished.output_closed_at - finished.exited_at)
            for name, value in samples.items():
                figures[name].samples.append(value)
    return list(figures.values())


def exit_after_last_test(runs: int) -> list[Figure]:
    """From the end of the last test to the process's exit, with CI unset and with CI=true.

    The child loads bench/last_test_clock.py, which writes time.time() when the
    last test's call phase is reported (its result is on screen), when its
    teardown is done (for the last test that includes the session fixtures),
    and at pytest_unconfigure; the parent takes time.time() when waitpid returns.
    """
    return [*_exit_samples(False, runs), *_exit_samples(True, runs)]


def unit_run_imports(runs: int) -> tuple[Figure, Figure, Figure]:
    """The services' unit tests with the plugin loaded: does docker or testcontainers get imported?"""
    command = shown(IMPORT_PROBE)
    wall = Figure(
        "unit-run", "unit run: services/*/tests, wall time", command, group="imports", note="CI unset"
    )
    imported = {
        name: Figure(
            f"unit-imports-{name}",
            f"unit run imported `{name}`",
            command,
            group="imports",
            unit=YES_NO,
            note="sys.modules at pytest_unconfigure, plugin loaded",
        )
        for name in ("docker", "testcontainers")
    }
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "imports.json"
        for _ in range(runs):
            finished = _session(IMPORT_PROBE, {"BENCH_IMPORTS_FILE": str(path)})
            probe = json.loads(path.read_text())
            if not probe["plugin_loaded"]:
                raise RuntimeError(
                    "pytest-microstack was not loaded in the unit run: the check proves nothing"
                )
            wall.samples.append(finished.seconds)
            for name, figure in imported.items():
                figure.samples.append(1.0 if probe["imported"][name] else 0.0)
    return wall, imported["docker"], imported["testcontainers"]


def integration_suite(runs: int, workers: int | None, *, coverage: bool = False) -> Figure:
    """The whole integration suite, on `workers` xdist workers (None: without xdist).

    With `coverage`, as `nox -s coverage` runs it: --stack-coverage joined to pytest-cov.
    """
    command = [*SUITE, "-n", str(workers)] if workers else [*SUITE, "-p", "no:xdist"]
    if coverage:
        command += ["--stack-coverage", *COVERAGE_ARGS]
    key = f"suite-n{workers}" if workers else "suite-serial"
    title = f"integration suite, -n {workers}" if workers else "integration suite, serial (no xdist)"
    figure = Figure(
        f"{key}-coverage" if coverage else key,
        f"{title}, --stack-coverage with pytest-cov" if coverage else title,
        shown(command),
        group="sessions",
        note=("CI unset; a stack per worker" if workers else "CI unset; one stack")
        + ("; compare the same run without coverage" if coverage else ""),
    )
    for _ in range(runs):
        figure.samples.append(_session(command).seconds)
    return figure


def xdist_worker_overhead(runs: int) -> tuple[Figure, Figure]:
    """Two quick tests on one xdist worker (one stack) against two workers (a stack each)."""
    commands = {1: [*PYTEST, "-n", "1", *TWO_TESTS], 2: [*PYTEST, "-n", "2", "--dist", "load", *TWO_TESTS]}
    figures = {
        workers: Figure(
            f"two-tests-n{workers}",
            f"two quick tests, -n {workers}",
            shown(command),
            group="sessions",
            note="one worker, one stack"
            if workers == 1
            else "a stack each: the difference is a worker's cost",
        )
        for workers, command in commands.items()
    }
    for _ in range(runs):
        for workers, command in commands.items():
            figures[workers].samples.append(_session(command).seconds)
    return figures[1], figures[2]


def interrupt_during_startup(runs: int) -> tuple[Figure, Figure, Figure]:
    """Ctrl-C at spread moments of a session's start-up: time to exit, and what is left, when."""
    command = shown(HOLD)
    exit_time = Figure(
        "ctrl-c-exit",
        "Ctrl-C during start-up → process exit",
        f"SIGINT to the process group of `{command}` 0.5-2.5 s after spawn",
        group="robustness",
        note="CI unset",
    )
    left = Figure(
        "ctrl-c-left-at-exit",
        "resources left at exit after Ctrl-C",
        exit_time.command,
        group="robustness",
        unit=COUNT,
    )
    removed = Figure(
        "ctrl-c-removed",
        "exit after Ctrl-C → its stack gone",
        exit_time.command,
        group="robustness",
        resolution=REMOVAL_RESOLUTION,
    )
    for number in range(runs):
        delay = 0.5 + 2.0 * number / max(1, runs - 1)
        run_id = new_run_id()
        with tempfile.TemporaryDirectory() as workdir, tempfile.TemporaryFile() as out:
            env = environment(extra={"HOLD_STACK_REPORT": str(Path(workdir) / "project"), RUN_ID_ENV: run_id})
            child = subprocess.Popen(
                HOLD,
                cwd=ROOT,
                env={**env, "PYTHONFAULTHANDLER": "1"},  # a hang prints its stacks (wait_or_dump)
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            time.sleep(delay)  # the moment of the interrupt is the variable measured here
            signalled = time.perf_counter()
            os.killpg(child.pid, signal.SIGINT)
            try:
                wait_or_dump(child, INTERRUPT_EXIT_BOUND)
            except subprocess.TimeoutExpired as hung:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)  # what it started, in its own session
                out.seek(0)
                stacks = out.read().decode(errors="replace")
                raise ChildFailed(
                    HOLD, -1, f"{stacks}\n(no exit {INTERRUPT_EXIT_BOUND:g} s after SIGINT at {delay:.2f} s)"
                ) from hung
            exited = time.perf_counter()
            exit_time.samples.append(exited - signalled)
            left.samples.append(float(run_resources(client(), run_id)))
            wait_until_run_removed(client(), run_id)
            removed.samples.append(time.perf_counter() - exited)
    return exit_time, left, removed

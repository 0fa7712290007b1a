"""Issue 26's costs of recording the exchanges: latency per hop, load throughput, start-up, memory.

Each is measured with the recording on (`--stack-exchanges`, StackSettings.exchanges=True) and
off (`--no-stack-exchanges`, False), side by side in the same run, so the targets compare
like with like. The pure parts (percentiles, the load run's rows, the proxies' usage
answers) are separate functions, unit-tested in tests/tools/test_bench.py.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_microstack import StackSettings, open_stack

from .children import PYTEST, ROOT, environment, shown, timed
from .engine_state import (
    PROJECT_LABEL,
    RUN_ID_ENV,
    new_run_id,
    run_projects_prefix,
    wait_until_project_removed,
    wait_until_run_removed,
)
from .figures import SETTINGS_CODE, client, settings
from .sessions import SUITE
from .timing import COUNT, MEGABYTES, MILLISECONDS, PER_SECOND, Figure, stopwatch

GROUP = "exchanges"
HOP_SERVICE = "user-service"
HOP_PATH = "/health"  # no I/O in the service: what is left is the path to it
HOP_REQUESTS = 2000  # per side and run, in blocks that alternate between the two stacks
HOP_BLOCK = 100
HOP_TIMEOUT = 10.0
# What `nox -s load` runs, less its --no-stack-exchanges.
LOAD = [*PYTEST, "-m", "load", "-p", "no:xdist", "tests/load"]
ON = "--stack-exchanges"
LOAD_TIMEOUT = 1800.0  # the load test's own bound (pytest-timeout); about 80 s on a quiet machine
OFF = "--no-stack-exchanges"
# The load run's throughputs compared on/off: its two wrk paths, and the locust flow's total.
FLOOR_PREFIX = "GET /users/authenticate"
VALIDATE_PATH = "GET /products/validate-user"
FLOW_PREFIX = "flow: "
LOAD_PATHS = {
    "floor": "wrk GET /users/authenticate (one hop)",
    "validate-user": "wrk GET /products/validate-user (two hops)",
    "flow": "locust flow, all its requests",
}
FRONT_LABEL = "io.microstack.exchanges.front"  # proxy_wiring.FRONT_LABEL: on every proxy's sidecar
CONTROL_OPTION = re.compile(r"--control (\d+)")  # in the sidecar's command (proxy_wiring)
USAGE_POLL_SECONDS = 1.0
KIB = 1024


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile (the smallest value with `percent` % of them at or below it)."""
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def load_throughputs(load: Any) -> dict[str, float]:
    """Requests per second of the load run (its load.json): the floor, validate-user and the whole flow.

    The flow's figure is the sum of its paths' rates (each over the same flow phase). Raises
    ValueError naming what is missing, so a changed load run can't pass as a figure.
    """
    rows = load.get("rows") if isinstance(load, Mapping) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError("the load run's JSON has no rows")
    found: dict[str, float] = {}
    flow = [float(row["requests_per_second"]) for row in rows if str(row["path"]).startswith(FLOW_PREFIX)]
    for row in rows:
        path = str(row["path"])
        if path.startswith(FLOOR_PREFIX):
            found["floor"] = float(row["requests_per_second"])
        elif path == VALIDATE_PATH:
            found["validate-user"] = float(row["requests_per_second"])
    if flow:
        found["flow"] = sum(flow)
    missing = [name for name in LOAD_PATHS if name not in found]
    if missing:
        raise ValueError(f"the load run's JSON has no row for {', '.join(missing)}")
    return found


def proxies_peak_mb(
    usages: Mapping[str, Mapping[str, Any]], projects: Mapping[str, str], *, beyond_start: bool = False
) -> dict[str, float]:
    """Each project's proxies' peak RSS, summed, in MB: `usages` by sidecar, `projects` sidecar -> project.

    With `beyond_start`, each proxy's peak less its peak once it was listening (the
    interpreter and its code): what the traffic and the records it keeps added.
    """
    totals: dict[str, float] = {}
    for sidecar, usage in usages.items():
        peak, start = usage.get("max_rss_kib"), usage.get("start_max_rss_kib") if beyond_start else 0
        if not isinstance(peak, int | float) or not isinstance(start, int | float):
            raise ValueError(f"{sidecar} reported no peak RSS: {usage}")
        kib = peak - start
        project = projects[sidecar]
        totals[project] = totals.get(project, 0.0) + kib * KIB / 1e6
    return totals


def published_control_port(container: Mapping[str, Any]) -> int | None:
    """The host port of a proxy's control port, from the engine's container list entry.

    Only the control port is asked: a request on the service's own port would be
    recorded as the tests' exchange and pass on to the service.
    """
    match = CONTROL_OPTION.search(str(container.get("Command") or ""))
    if match is None:
        return None
    control = int(match.group(1))
    for port in container.get("Ports") or []:
        if port.get("PrivatePort") == control and port.get("PublicPort"):
            return int(port["PublicPort"])
    return None


def failures(output: str, tail: int = 1500) -> str:
    """pytest's FAILED/ERROR summary lines of a child's output, then the output's end."""
    named = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return "\n".join([*named, "...", output[-tail:]])


def _hop_samples(connection: http.client.HTTPConnection, count: int) -> list[float]:
    """Milliseconds of `count` GETs on one kept-alive connection.

    If the service closed it meanwhile (its keep-alive limit, on a stalled machine), it is
    reopened by an untimed request: no connect is ever in a sample.
    """
    samples: list[float] = []
    while len(samples) < count:
        started = time.perf_counter()
        try:
            connection.request("GET", HOP_PATH)
            response = connection.getresponse()
            response.read()
        except (http.client.RemoteDisconnected, ConnectionError):
            connection.close()
            connection.request("GET", HOP_PATH)  # reopened, untimed
            connection.getresponse().read()
            continue
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"GET {HOP_PATH} on {connection.host}:{connection.port}: {response.status}")
    return samples


def hop_latency(runs: int) -> list[Figure]:
    """A request through the proxy against the same request straight to the service.

    Two stacks at once, one recording and one not: `GET /health` of user-service on
    its published port (the proxy's, or the service's own), on one kept-alive connection
    a side from this process (opened in an untimed warm-up: no connect is timed), in
    blocks of 100 that alternate between the stacks so both see the same machine. Each
    run gives the p50 and p99 of 2,000 requests a side.
    """
    command = (
        f"open_stack(settings, exchanges on) and open_stack(settings, exchanges off), each "
        f"{SETTINGS_CODE}; GET {HOP_PATH} of {HOP_SERVICE} on its published 127.0.0.1 port, "
        f"{HOP_REQUESTS} a side and run, one kept-alive connection a side, blocks of {HOP_BLOCK} alternating"
    )
    names = {
        (side, q): Figure(
            f"hop-p{q}-{side}",
            f"one hop, p{q}: {'through the proxy' if side == 'on' else 'straight to the service'}",
            command,
            group=GROUP,
            unit=MILLISECONDS,
            note="exchanges on" if side == "on" else "exchanges off (--no-stack-exchanges)",
        )
        for q in (50, 99)
        for side in ("on", "off")
    }
    on, off = settings(), replace(settings(), exchanges=False)
    with open_stack(on) as recording, open_stack(off) as plain:
        if HOP_SERVICE not in getattr(recording, "fronts", {}):
            raise RuntimeError(f"{HOP_SERVICE} has no proxy with exchanges on: nothing to compare")
        connections = {
            side: http.client.HTTPConnection("127.0.0.1", stack.address(HOP_SERVICE)[1], timeout=HOP_TIMEOUT)
            for side, stack in (("on", recording), ("off", plain))
        }
        try:
            for connection in connections.values():
                _hop_samples(connection, HOP_BLOCK)  # warm-up, untimed: the connection, first requests
            for _ in range(runs):
                samples: dict[str, list[float]] = {"on": [], "off": []}
                for block in range(HOP_REQUESTS // HOP_BLOCK):
                    for side in ("on", "off") if block % 2 == 0 else ("off", "on"):
                        samples[side] += _hop_samples(connections[side], HOP_BLOCK)
                for (side, q), figure in names.items():
                    figure.samples.append(percentile(samples[side], q))
        finally:
            for connection in connections.values():
                connection.close()
    for stack_settings in (on, off):
        wait_until_project_removed(client(), stack_settings.project)
    return list(names.values())


def _start_once(current: StackSettings) -> float:
    context = open_stack(current)
    seconds = stopwatch(context.__enter__)
    context.__exit__(None, None, None)
    wait_until_project_removed(client(), current.project)
    return seconds


def startup(runs: int) -> tuple[Figure, Figure]:
    """The harness's start → all healthy with the recording and without, alternating which goes first."""
    figures = {
        side: Figure(
            f"harness-start-exchanges-{side}",
            f"harness start → all healthy, exchanges {side}",
            f"open_stack(replace({SETTINGS_CODE}, exchanges={side == 'on'})).__enter__()",
            group=GROUP,
            note="proxies added to the override, one sidecar per service"
            if side == "on"
            else "compare: no proxies (--no-stack-exchanges)",
        )
        for side in ("on", "off")
    }
    for side in ("on", "off"):  # untimed warm-up: the proxy image's python3 check is remembered
        _start_once(replace(settings(), exchanges=side == "on"))
    for number in range(runs):
        for side in ("on", "off") if number % 2 == 0 else ("off", "on"):
            figures[side].samples.append(_start_once(replace(settings(), exchanges=side == "on")))
    return figures["on"], figures["off"]


def load_throughput(pairs: int) -> list[Figure]:
    """`nox -s load` with the recording on and off, `pairs` times each, alternating which goes first.

    Each run is the load session as `nox -s load` runs it (its own stack, the same
    phases and counts), writing its load.json to a folder of its own (LOAD_RESULTS):
    bench/results/load.json stays the one `nox -s load` wrote.
    """
    figures = {
        (name, side): Figure(
            f"load-{name}-{side}",
            f"`nox -s load` throughput, {label}, exchanges {side}",
            shown([*LOAD, ON if side == "on" else OFF], {"LOAD_RESULTS": "<a folder of its own>"}),
            group=GROUP,
            unit=PER_SECOND,
        )
        for name, label in LOAD_PATHS.items()
        for side in ("on", "off")
    }
    for number in range(pairs):
        for side in ("on", "off") if number % 2 == 0 else ("off", "on"):
            with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
                run_id = new_run_id()
                env = environment(extra={"LOAD_RESULTS": folder, RUN_ID_ENV: run_id})
                timed([*LOAD, ON if side == "on" else OFF], env, timeout=LOAD_TIMEOUT)
                wait_until_run_removed(client(), run_id)
                rates = load_throughputs(json.loads((Path(folder) / "load.json").read_text()))
            for name, rate in rates.items():
                figures[(name, side)].samples.append(rate)
    return list(figures.values())


def _usage(port: int) -> dict[str, Any] | None:
    """A proxy's /usage answer, or None if it is not answering (starting, or being removed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/usage")
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
        return answer if response.status == 200 else None
    except (OSError, ValueError):
        return None
    finally:
        connection.close()


def _poll_usage(run_id: str, usages: dict[str, dict[str, Any]], projects: dict[str, str]) -> None:
    """One round: every running proxy of the run asked for its usage on its published control port."""
    prefix = run_projects_prefix(run_id)
    for container in client().api.containers(filters={"label": FRONT_LABEL}):
        labels = container.get("Labels") or {}
        project = str(labels.get(PROJECT_LABEL, ""))
        if not project.startswith(prefix):
            continue
        name = str(container["Names"][0]).lstrip("/")
        port = published_control_port(container)
        if port is not None and (answer := _usage(port)) is not None and "max_rss_kib" in answer:
            usages[name], projects[name] = answer, project


def _poll_until_exit(child: subprocess.Popen[bytes], run_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    usages: dict[str, dict[str, Any]] = {}
    projects: dict[str, str] = {}
    while child.poll() is None:
        _poll_usage(run_id, usages, projects)
        time.sleep(USAGE_POLL_SECONDS)  # the polling interval: the last poll is at most this before the end
    return usages, projects


def recording_memory(workers: int = 2) -> list[Figure]:
    """The proxies' memory over a whole integration suite (-n `workers`), as they report it.

    While the suite runs, every proxy of the run is asked once a second for its peak
    RSS (getrusage's ru_maxrss, on its control port: GET /usage); the last answer of
    each counts, and a peak never goes down. Figures: the proxies of one stack summed
    (the largest stack), every proxy of the run summed, and what one stack's proxies
    grew beyond their peak once listening.
    """
    command = [*SUITE, "-n", str(workers)]
    per_stack = Figure(
        "exchanges-memory-stack",
        "recording memory: peak RSS of one stack's proxies, summed, over the integration suite",
        shown(command) + "; GET /usage on each proxy's control port every 1 s",
        group=GROUP,
        unit=MEGABYTES,
        note="the largest of the run's stacks (one per xdist worker); the interpreter included",
        resolution=f"the proxies' own getrusage peak, read every {USAGE_POLL_SECONDS:g} s to the end",
    )
    total = Figure(
        "exchanges-memory-run",
        f"recording memory: every proxy of the run (-n {workers}), summed",
        per_stack.command,
        group=GROUP,
        unit=MEGABYTES,
    )
    grown = Figure(
        "exchanges-memory-growth",
        "recording memory beyond the idle proxies: one stack's, summed",
        per_stack.command,
        group=GROUP,
        unit=MEGABYTES,
        note="each proxy's peak less its peak once listening (interpreter and code); the largest stack",
    )
    proxies = Figure(
        "exchanges-memory-proxies", "proxies that answered", per_stack.command, group=GROUP, unit=COUNT
    )
    run_id = new_run_id()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment(extra={RUN_ID_ENV: run_id}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        usages, projects = _poll_until_exit(child, run_id)
        if child.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"the suite failed ({child.returncode}):\n{failures(out.read().decode())}")
    wait_until_run_removed(client(), run_id)
    stacks = proxies_peak_mb(usages, projects)
    if not stacks:
        raise RuntimeError(f"no proxy of run {run_id} answered on its control port: nothing measured")
    per_stack.samples.append(max(stacks.values()))
    total.samples.append(sum(stacks.values()))
    grown.samples.append(max(proxies_peak_mb(usages, projects, beyond_start=True).values()))
    proxies.samples.append(float(len(usages)))
    return [per_stack, total, grown, proxies]

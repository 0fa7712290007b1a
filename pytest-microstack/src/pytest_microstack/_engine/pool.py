"""A pool of engines for one run (`stack_engines`): which answer, with how many CPUs, which worker goes where.

Plain code, no pytest: the run's controller probes every listed engine at start-up
(`docker info`, in parallel, each under a deadline), leaves out the ones that don't
answer, and hands each xdist worker the engine that keeps the stacks per CPU lowest.
A worker then sets DOCKER_HOST to it, so docker-py, compose and the reaper all use it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from pytest_microstack._errors import SettingsError

SCHEMES = ("unix", "tcp", "ssh", "http", "https")  # what DOCKER_HOST accepts (docker-py, compose)
PROBE_TIMEOUT = 10.0  # seconds for an engine to answer `docker info` at start-up
PING_TIMEOUT = 5.0  # seconds for a worker's engine to answer `_ping` after a failed test
# The API version the probes speak: the oldest the plugin supports (no version request first).
PROBE_API = "1.41"


@dataclass(frozen=True)
class PoolEngine:
    """An engine that answered at start-up: where, its CPU count and how long the answer took."""

    url: str
    cpus: int
    answered_in: float


@dataclass(frozen=True)
class LeftOut:
    """An engine that did not answer at start-up, and what it said instead."""

    url: str
    reason: str


def parse_engines(values: Iterable[str], source: str) -> tuple[str, ...]:
    """Engine URLs, separated by commas or whitespace; SettingsError naming `source` for a bad one."""
    urls: list[str] = []
    for value in values:
        for url in value.replace(",", " ").split():
            parts = urlsplit(url)
            if parts.scheme not in SCHEMES or not (parts.netloc or parts.path):
                raise SettingsError(
                    f"{source}: {url!r} is not an engine address "
                    f"(use {', '.join(scheme + '://' for scheme in SCHEMES)}, as DOCKER_HOST)"
                )
            if url in urls:
                raise SettingsError(f"{source}: {url!r} is listed twice")
            urls.append(url)
    return tuple(urls)


def _client(url: str, timeout: float) -> Any:
    """A docker-py client for `url`, as DOCKER_HOST would make it, that asks nothing until used."""
    import docker

    return docker.from_env(environment={"DOCKER_HOST": url}, version=PROBE_API, timeout=int(max(timeout, 1)))


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> PoolEngine | LeftOut:
    """The engine at `url` with its CPU count (`docker info` NCPU), or why it is left out."""
    started = time.monotonic()
    try:
        client = _client(url, timeout)
        try:
            cpus = int(client.info().get("NCPU") or 0)
        finally:
            client.close()
    except Exception as error:  # noqa: BLE001 - any failure to answer leaves the engine out
        return LeftOut(url, f"{type(error).__name__}: {error}".splitlines()[0][:300])
    if cpus < 1:
        return LeftOut(url, "answered, but with no CPU count (NCPU)")
    return PoolEngine(url, cpus, time.monotonic() - started)


def probe_all(urls: Sequence[str], timeout: float = PROBE_TIMEOUT) -> tuple[list[PoolEngine], list[LeftOut]]:
    """Every engine probed at once; those that answered and those left out, each in the listed order."""
    if not urls:
        return [], []
    with ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="engine-probe") as pool:
        results = list(pool.map(lambda url: probe(url, timeout), urls))
    answered = [result for result in results if isinstance(result, PoolEngine)]
    left_out = [result for result in results if isinstance(result, LeftOut)]
    return answered, left_out


def next_engine(engines: Sequence[PoolEngine], counts: Mapping[str, int]) -> PoolEngine:
    """The engine where one more stack makes the fewest stacks per CPU; the first listed on a tie."""
    if not engines:
        raise ValueError("no engine to choose from")
    return min(engines, key=lambda engine: Fraction(counts.get(engine.url, 0) + 1, engine.cpus))


def assign(engines: Sequence[PoolEngine], workers: Sequence[str]) -> dict[str, str]:
    """Each worker's engine URL, workers taken in order, each to `next_engine` of those before it."""
    counts: dict[str, int] = {}
    assignment = {}
    for worker in workers:
        chosen = next_engine(engines, counts)
        counts[chosen.url] = counts.get(chosen.url, 0) + 1
        assignment[worker] = chosen.url
    return assignment


def may_stop(worker: str, placed: Mapping[str, str], lost: Collection[str], stopped: Collection[str]) -> bool:
    """Whether `worker`, whose engine is lost, may take no more tests: only while another worker,
    on an engine not `lost` (URLs) and not itself `stopped`, is left to run them."""
    return any(other != worker and url not in lost and other not in stopped for other, url in placed.items())


def answers(url: str, timeout: float = PING_TIMEOUT) -> bool:
    """Whether the engine at `url` answers `_ping` now (a worker asks after a failed test)."""
    try:
        client = _client(url, timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure is "doesn't answer"
        return False


def render(
    engines: Sequence[PoolEngine],
    left_out: Sequence[LeftOut],
    placed: Mapping[str, str],
    ready_in: Mapping[str, float | None],
    lost: Mapping[str, str],
) -> list[str]:
    """The summary's lines: each engine, its CPUs, and its workers with their stacks' start-up times."""
    lines = [f"stack_engines: {len(engines)} of {len(engines) + len(left_out)} answered at start-up"]
    for engine in engines:
        workers = []
        for worker in sorted((w for w, url in placed.items() if url == engine.url), key=_worker_order):
            seconds = ready_in.get(worker)
            ready = f"ready in {seconds:.1f} s" if seconds is not None else "no stack started"
            workers.append(f"{worker} {ready}" + (" (engine lost)" if worker in lost else ""))
        lines.append(
            f"  {engine.url}  {engine.cpus} CPUs, answered in {engine.answered_in:.2f} s: "
            + (", ".join(workers) or "no worker")
        )
    lines.extend(f"  {engine.url}  left out: {engine.reason}" for engine in left_out)
    lines.extend(f"  {worker}: {said}" for worker, said in sorted(lost.items()))
    return lines


def _worker_order(worker: str) -> tuple[int, str]:
    """gw2 before gw10."""
    digits = worker.removeprefix("gw")
    return (int(digits), worker) if digits.isdigit() else (-1, worker)

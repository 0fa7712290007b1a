"""A pool of engines (`stack_engines`): parsing, probing, the CPU-balanced placement and the run's summary.

The placement is tested at its boundaries (equal CPUs, one engine, more engines than
workers, unequal CPUs, an engine down); probing goes to tiny engines on unix sockets
(unit/engine_socket.py) and to a socket nothing listens on. The pytester runs are the
plugin as users run it: one engine down is left out with a warning, all down is a
usage error, and the summary says which worker ran where.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import docker
import pytest
from pytest_microstack import SettingsError
from pytest_microstack._engine.pool import (
    LeftOut,
    PoolEngine,
    answers,
    assign,
    may_stop,
    next_engine,
    parse_engines,
    probe,
    probe_all,
    render,
)

from unit.engine_socket import engine_socket
from unit.fakes import DOCKER_VERSION

REAL_CLIENT_INIT = docker.api.client.APIClient.__init__  # before `no_docker` replaces it, per test


def engines(*cpus: int) -> list[PoolEngine]:
    return [PoolEngine(f"tcp://10.0.0.{index}:2375", count, 0.01) for index, count in enumerate(cpus, 1)]


# --- placement ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpus", "workers", "expected"),
    [
        pytest.param((2, 2), 4, [1, 2, 1, 2], id="equal-cpus-round-robin"),
        pytest.param((8,), 3, [1, 1, 1], id="one-engine-takes-all"),
        pytest.param((2, 2, 2), 2, [1, 2], id="more-engines-than-workers"),
        pytest.param((4, 2), 3, [1, 1, 2], id="twice-the-cpus-twice-the-workers"),
        pytest.param((4, 2), 6, [1, 1, 2, 1, 1, 2], id="four-to-two-over-six"),
        pytest.param((1, 3), 4, [2, 2, 1, 2], id="the-bigger-listed-second"),
    ],
)
def test_workers_are_placed_by_stacks_per_cpu(
    cpus: tuple[int, ...], workers: int, expected: list[int]
) -> None:
    pool = engines(*cpus)
    names = [f"gw{index}" for index in range(workers)]

    placed = assign(pool, names)

    assert placed == {name: pool[which - 1].url for name, which in zip(names, expected, strict=True)}


def test_placement_counts_match_cpu_shares_exactly() -> None:
    pool = engines(6, 3, 3)

    placed = list(assign(pool, [f"gw{index}" for index in range(12)]).values())

    assert [placed.count(engine.url) for engine in pool] == [6, 3, 3]


def test_a_tie_goes_to_the_engine_listed_first() -> None:
    pool = engines(2, 2)

    assert next_engine(pool, {}).url == pool[0].url
    assert next_engine(pool, {pool[0].url: 1}).url == pool[1].url
    assert next_engine(pool, {pool[0].url: 1, pool[1].url: 1}).url == pool[0].url


def test_no_engine_to_choose_from_is_an_error() -> None:
    with pytest.raises(ValueError, match="no engine"):
        next_engine([], {})


# --- parsing --------------------------------------------------------------------------------------


def test_engines_are_split_on_commas_and_whitespace_in_order() -> None:
    values = ["tcp://a:2375, ssh://ci@b", "unix:///run/docker.sock"]

    assert parse_engines(values, "stack_engines") == (
        "tcp://a:2375",
        "ssh://ci@b",
        "unix:///run/docker.sock",
    )
    assert parse_engines([], "stack_engines") == ()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("a:2375", r"STACK_ENGINES: 'a:2375' is not an engine address", id="no-scheme"),
        pytest.param("ftp://a", r"STACK_ENGINES: 'ftp://a' is not an engine address", id="bad-scheme"),
        pytest.param("tcp://", r"STACK_ENGINES: 'tcp://' is not an engine address", id="no-host"),
        pytest.param("tcp://a tcp://a", r"STACK_ENGINES: 'tcp://a' is listed twice", id="twice"),
    ],
)
def test_a_bad_engine_is_refused_naming_where_it_came_from(value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        parse_engines([value], "STACK_ENGINES")


# --- probing (tiny engines on unix sockets) -------------------------------------------------------


@pytest.fixture
def real_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-py may connect here: only to the tiny engines and dead sockets of these tests."""
    monkeypatch.setattr(docker.api.client.APIClient, "__init__", REAL_CLIENT_INIT)


@pytest.fixture
def tiny_engines(tmp_path: Path) -> Iterator[list[str]]:
    """Two engines answering `docker info` with 2 and 6 CPUs."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(engine_socket(tmp_path / f"e{cpus}.sock", DOCKER_VERSION, {"NCPU": cpus}))
            for cpus in (2, 6)
        ]


def dead_socket(tmp_path: Path) -> str:
    """An engine address on 127.0.0.1 that refuses every connection (a port nothing listens on).

    TCP, not a unix socket: docker-py leaves the socket of a refused unix connection unclosed.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


@pytest.mark.usefixtures("real_client")
def test_probe_reads_the_engines_cpu_count(tiny_engines: list[str]) -> None:
    found = probe(tiny_engines[1], timeout=5)

    assert isinstance(found, PoolEngine)
    assert (found.url, found.cpus) == (tiny_engines[1], 6)
    assert 0 < found.answered_in < 5


@pytest.mark.usefixtures("real_client")
def test_an_engine_that_refuses_is_left_out_with_the_reason(tmp_path: Path) -> None:
    url = dead_socket(tmp_path)

    found = probe(url, timeout=2)

    assert isinstance(found, LeftOut)
    assert found.url == url
    assert "refused" in found.reason.lower() or "error" in found.reason.lower(), found.reason


@pytest.mark.usefixtures("real_client")
def test_an_engine_without_a_cpu_count_is_left_out(tmp_path: Path) -> None:
    with engine_socket(tmp_path / "odd.sock", DOCKER_VERSION, {}) as url:
        found = probe(url, timeout=5)

    assert found == LeftOut(url, "answered, but with no CPU count (NCPU)")


@pytest.mark.usefixtures("real_client")
def test_probe_all_keeps_the_listed_order_and_splits_answered_from_left_out(
    tmp_path: Path, tiny_engines: list[str]
) -> None:
    dead = dead_socket(tmp_path)

    answered, left_out = probe_all([tiny_engines[1], dead, tiny_engines[0]], timeout=5)

    assert [engine.url for engine in answered] == [tiny_engines[1], tiny_engines[0]]
    assert [engine.url for engine in left_out] == [dead]
    assert probe_all([]) == ([], [])


@pytest.mark.usefixtures("real_client")
def test_answers_is_true_only_for_an_engine_that_answers(tmp_path: Path, tiny_engines: list[str]) -> None:
    assert answers(tiny_engines[0], timeout=5)
    assert not answers(dead_socket(tmp_path), timeout=2)


# --- a lost engine's workers -----------------------------------------------------------------------

A, B = "tcp://10.0.0.1:2375", "tcp://10.0.0.2:2375"
PLACED = {"gw0": A, "gw1": B, "gw2": A, "gw3": B}


@pytest.mark.parametrize(
    ("worker", "lost", "stopped", "expected"),
    [
        pytest.param("gw1", {B}, set(), True, id="the-other-engine-has-workers"),
        pytest.param("gw3", {B}, {"gw1"}, True, id="its-engine-mate-already-stopped"),
        pytest.param("gw1", {A, B}, set(), False, id="every-engine-lost-the-last-keep-going"),
        pytest.param("gw1", {B}, {"gw0", "gw2"}, False, id="the-other-engines-workers-all-stopped"),
        pytest.param("gw1", {B}, {"gw0"}, True, id="one-worker-of-the-other-engine-left"),
    ],
)
def test_a_lost_engines_worker_stops_only_while_a_worker_elsewhere_goes_on(
    worker: str, lost: set[str], stopped: set[str], expected: bool
) -> None:
    assert may_stop(worker, PLACED, lost, stopped) is expected


def test_a_lone_worker_never_stops() -> None:
    assert not may_stop("gw0", {"gw0": A}, {A}, set())
    assert not may_stop("main", {}, {A}, set())


# --- the summary ----------------------------------------------------------------------------------


def test_the_summary_says_which_worker_ran_where_with_start_up_times() -> None:
    pool = engines(4, 2)
    placed = assign(pool, ["gw0", "gw1", "gw2", "gw10"])
    ready = {"gw0": 12.34, "gw1": 11.0, "gw2": None, "gw10": 9.5}
    left_out = [LeftOut("tcp://10.0.0.9:2375", "ConnectionError: refused")]

    lines = render(pool, left_out, placed, ready, {"gw2": "the engine tcp://10.0.0.2:2375 stopped answering"})

    assert placed == {"gw0": pool[0].url, "gw1": pool[0].url, "gw2": pool[1].url, "gw10": pool[0].url}
    assert lines == [
        "stack_engines: 2 of 3 answered at start-up",
        "  tcp://10.0.0.1:2375  4 CPUs, answered in 0.01 s: gw0 ready in 12.3 s, gw1 ready in 11.0 s, "
        "gw10 ready in 9.5 s",
        "  tcp://10.0.0.2:2375  2 CPUs, answered in 0.01 s: gw2 no stack started (engine lost)",
        "  tcp://10.0.0.9:2375  left out: ConnectionError: refused",
        "  gw2: the engine tcp://10.0.0.2:2375 stopped answering",
    ]


def test_an_engine_without_workers_says_so() -> None:
    lines = render(engines(2, 2), [], {"main": "tcp://10.0.0.1:2375"}, {"main": 3.0}, {})

    assert lines[1:] == [
        "  tcp://10.0.0.1:2375  2 CPUs, answered in 0.01 s: main ready in 3.0 s",
        "  tcp://10.0.0.2:2375  2 CPUs, answered in 0.01 s: no worker",
    ]


# --- the plugin, as users run it ------------------------------------------------------------------


def test_an_engine_down_at_start_up_is_left_out_with_a_warning_and_the_run_goes_on(
    pytester: pytest.Pytester, tmp_path: Path, tiny_engines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STACK_ENGINES", raising=False)
    dead = dead_socket(tmp_path)
    # Warnings are errors here, as in this repository: leaving an engine out must not crash the run.
    ini = f"[pytest]\nfilterwarnings = error\nstack_engines = {dead} {tiny_engines[1]}\n"
    pytester.makefile(".ini", pytest=ini)
    pytester.makepyfile("def test_plain():\n    import os\n    assert os.environ['DOCKER_HOST']\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"WARNING: stack_engines: {dead} left out, no answer: *",
            "*microstack engines*",
            "stack_engines: 1 of 2 answered at start-up",
            f"  {tiny_engines[1]}  6 CPUs, answered in * s: main no stack started",
            f"  {dead}  left out: *",
        ]
    )


def test_no_engine_answering_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = dead_socket(tmp_path)
    monkeypatch.setenv("STACK_ENGINES", "tcp://never.used:2375")  # the command line beats it
    pytester.makefile(".ini", pytest="[pytest]\n")
    pytester.makepyfile("def test_plain():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--stack-engines={dead}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*stack_engines: none of the 1 engines answered ({dead}: *"])

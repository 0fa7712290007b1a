"""A run's pool of engines (`stack_engines`): probed and placed by the controller, used by workers.

The controller (or a run without xdist) probes every listed engine once, at
configure; one that doesn't answer is left out with a warning, and none answering
is a usage error. Each xdist worker, as it starts, gets the engine where one more
stack makes the fewest stacks per CPU (`_engine.pool`), through its own
workerinput key, and sets DOCKER_HOST to it: docker-py, compose and the reaper then
all use it. A worker whose engine stops answering fails its remaining stack tests
at once with an EngineLostError naming the engine, and the controller sends it no
more (xdist's shutdown of that worker: it ends once the few it holds are done);
the other workers run the rest, and `--lf` re-runs the failed tests on the engines
that answer then. The summary says which
worker ran where, and how long each stack took to be ready.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_microstack._engine import pool
from pytest_microstack._errors import EngineLostError
from pytest_microstack._reports.run_summary import RunSummary
from pytest_microstack._session.run_state import WORKER_KEY, uses_own_fixture

if TYPE_CHECKING:
    from pytest_microstack._session.run_state import RunState

# xdist's workerinput/workeroutput key of the pool: the engine out, a lost engine back.
ENGINE_KEY = f"{WORKER_KEY}-engine"
MAIN = "main"  # the worker name of a run without xdist
LOST_SECTION = "microstack engine"  # a failed test's report section: its worker's engine is lost


def _distributes(config: pytest.Config) -> bool:
    """Whether this process is an xdist controller that will start workers."""
    return bool(getattr(config.option, "numprocesses", None)) and getattr(config.option, "dist", "no") != "no"


class EnginePool:
    """The pool's hooks, registered by `plugin.py` only when `stack_engines` lists engines."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state
        self.engines: list[pool.PoolEngine] = []
        self.left_out: list[pool.LeftOut] = []
        self.placed: dict[str, str] = {}  # worker -> engine URL
        self.ready_in: dict[str, float | None] = {}  # worker -> seconds until its stack was ready
        self.lost: dict[str, str] = {}  # worker -> what its engine did
        self.lost_urls: set[str] = set()  # the controller: engines a worker's test found lost
        self.stopped: set[str] = set()  # the controller: workers sent no more tests
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None:
            self.url: str | None = workerinput.get(ENGINE_KEY)
        else:
            self._probe(state.settings.engines)
            self.url = None if _distributes(config) else self._place(MAIN)
        if self.url:
            os.environ["DOCKER_HOST"] = self.url  # this process's stack, compose and reaper

    def _probe(self, urls: tuple[str, ...]) -> None:
        self.engines, self.left_out = pool.probe_all(urls)
        if not self.engines:
            said = "; ".join(f"{engine.url}: {engine.reason}" for engine in self.left_out)
            raise pytest.UsageError(f"stack_engines: none of the {len(urls)} engines answered ({said})")

    def _place(self, worker: str) -> str:
        counts: dict[str, int] = {}
        for url in self.placed.values():
            counts[url] = counts.get(url, 0) + 1
        answering = [engine for engine in self.engines if engine.url not in self.lost_urls]
        url = pool.next_engine(answering or self.engines, counts).url
        self.placed[worker] = url
        return url

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """The engines left out, said before any test: a line, not a Python warning, which a project's
        `filterwarnings = error` would turn into a crash of the run it is meant to keep going."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        for engine in self.left_out:
            reporter.write_line(
                f"WARNING: stack_engines: {engine.url} left out, no answer: {engine.reason}", yellow=True
            )

    # The controller: each worker's engine out, its figures back.
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[ENGINE_KEY] = self._place(node.gateway.id)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        worker = node.gateway.id
        output = getattr(node, "workeroutput", None) or {}
        part = output.get(WORKER_KEY)
        if part:
            self.ready_in[worker] = _ready_in(RunSummary.from_dict(part["summary"]))
        lost = output.get(ENGINE_KEY)
        if lost:
            self.lost[worker] = str(lost)

    @pytest.hookimpl(optionalhook=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The controller: a worker whose engine is lost is sent no more tests, so they don't all
        fail there at once (it would take them fastest); the workers on other engines run them."""
        node = getattr(report, "node", None)  # xdist's WorkerController, on the controller only
        if node is None or not report.failed or LOST_SECTION not in dict(report.sections):
            return
        worker = node.gateway.id
        self.lost_urls.add(self.placed.get(worker, ""))
        if worker not in self.stopped and pool.may_stop(worker, self.placed, self.lost_urls, self.stopped):
            self.stopped.add(worker)
            node.shutdown()

    # A worker (or a run without xdist): the tests on a lost engine.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        worker = self.state.worker
        if worker in self.lost and uses_own_fixture(item, "stack"):
            raise EngineLostError(self.lost[worker])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A failed stack test asks whether the engine still answers; if not, the report says so."""
        report = yield
        url = self.url or self.placed.get(self.state.worker)
        if report.failed and url is not None and uses_own_fixture(item, "stack"):
            self._note_if_lost(url)
            if self.state.worker in self.lost:
                report.sections.append((LOST_SECTION, self.lost[self.state.worker]))
        return report

    def _note_if_lost(self, url: str) -> None:
        worker = self.state.worker
        if worker not in self.lost and not pool.answers(url):
            self.lost[worker] = (
                f"the engine {url} (stack_engines) that worker {worker}'s stack runs on stopped answering "
                f"at {time.strftime('%H:%M:%S')}: this worker's stack tests fail; `pytest --lf` re-runs "
                "them on the engines that answer then"
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None and self.state.worker in self.lost:
            workeroutput[ENGINE_KEY] = self.lost[self.state.worker]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if getattr(self.config, "workerinput", None) is not None:
            return
        if MAIN in self.placed:
            self.ready_in[MAIN] = _ready_in(self.state.summary)
        lines = pool.render(self.engines, self.left_out, self.placed, self.ready_in, self.lost)
        terminalreporter.write_sep("-", "microstack engines")
        for line in lines:
            terminalreporter.write_line(line)


def _ready_in(summary: RunSummary) -> float | None:
    """Seconds until the slowest service of the worker's stack was ready (its stack's start-up)."""
    seconds = [value for values in summary.startup.values() for value in values]
    return max(seconds) if seconds else None

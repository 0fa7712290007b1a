"""A failing test's exchanges (a section of its report, the JUnit XML, its artifacts), and the run timeline.

Registered by `plugin.py` with the rest of the plugin. Its report hook runs
inside RunState's, which masks every report last: the section is masked with
the rest; the files are masked here. The timeline of a run (of each xdist
worker) is written before the last test's teardown removes the stack.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_microstack._core.stack import ComposeStack as Stack
    from pytest_microstack._exchanges.records import Exchange
    from pytest_microstack._exchanges.timeline import CallSpan, ServiceSpan
    from pytest_microstack._reports.masking import Masker
    from pytest_microstack._session.run_state import RunState

LOG = logging.getLogger(__name__)
SECTION = "exchanges during "  # "exchanges during call"
TEXT_FILE = "exchanges.txt"
JSON_FILE = "exchanges.jsonl"
LOG_LINES = 500  # per service, in the timeline


def exchanges_since(stack: Stack, since: float | None) -> list[Exchange]:
    """Every proxy's exchanges since `since`, callers named, in start order (unmasked)."""
    from pytest_microstack._exchanges.records import callers, fetch, in_order, named

    groups = [fetch(stack, service, since=since or 0.0) for service in stack.fronts]
    return named(in_order(groups), callers(stack))


def render(exchanges: list[Exchange]) -> str:
    return "".join(f"{exchange.line()}\n" for exchange in exchanges) or "(no exchanges)\n"


class ExchangesReport:
    """Adds the exchanges to a failed test's report and artifacts."""

    def __init__(self, config: pytest.Config) -> None:
        from pytest_microstack._core.fault_events import LISTENERS

        self.config = config
        self.stack: Stack | None = None
        self.ready_at: float | None = None
        self.secret_names: tuple[str, ...] = ()
        self.tests: list[CallSpan] = []
        self.spans: list[ServiceSpan] = []
        self._open_faults: dict[tuple[str, str], float] = {}
        LISTENERS.append(self._fault_event)

    def pytest_unconfigure(self) -> None:
        from pytest_microstack._core.fault_events import LISTENERS

        if self._fault_event in LISTENERS:
            LISTENERS.remove(self._fault_event)

    def _fault_event(self, kind: str, service: str, what: str, when: float) -> None:
        from pytest_microstack._exchanges.timeline import FAULT_STATES, ServiceSpan

        if what == "inject":
            self._open_faults[(kind, service)] = when
        elif (kind, service) in self._open_faults:
            started = self._open_faults.pop((kind, service))
            self.spans.append(ServiceSpan(service, FAULT_STATES.get(kind, kind), started, when))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from pytest_microstack._exchanges.timeline import CallSpan

        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.tests.append(CallSpan(report.nodeid, report.start, report.stop, report.outcome))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, Any, None]:
        """Before the last test's teardown (which removes the stack): the run's timeline."""
        if nextitem is None and self.stack is not None:
            try:
                self._write_timeline(self.stack)
            except Exception:
                LOG.warning("the run timeline could not be written", exc_info=True)
        yield

    def _write_timeline(self, stack: Stack) -> None:
        from pytest_microstack._engine.logs import log_tail
        from pytest_microstack._exchanges.records import masked
        from pytest_microstack._exchanges.timeline import FAULT_STATES, ServiceSpan, Timeline, render

        state = self._state()
        if state is None:
            return  # a stack without proxies still gets its timeline: states, faults, tests, logs
        masker = state.masker(stack, self.secret_names)
        masker.add(state.run_masker.values)
        timeline = Timeline(f"pytest-microstack run {state.run_id} ({state.worker})", list(stack.services))
        timeline.tests = self.tests
        timeline.spans = list(self.spans)
        now = time.time()
        timeline.spans += [
            ServiceSpan(service, FAULT_STATES.get(kind, kind), started, now)
            for (kind, service), started in self._open_faults.items()
        ]
        if self.ready_at is not None:
            timeline.spans += [
                ServiceSpan(result.service, "starting", self.ready_at - result.elapsed, self.ready_at)
                for result in stack.startup
            ]
        timeline.exchanges = [masked(exchange, masker) for exchange in exchanges_since(stack, 0.0)]
        for service in stack.services:
            container = stack.container(service)
            if container is not None:
                text = log_tail(container, LOG_LINES, timestamps=True).decode(errors="replace")
                timeline.logs[service] = masker.text(text).splitlines()
        state.settings.artifacts.mkdir(parents=True, exist_ok=True)
        (state.settings.artifacts / f"timeline-{state.worker}.html").write_text(render(timeline))

    def _state(self) -> RunState | None:
        from pytest_microstack._session.run_state import RunState

        state = self.config.pluginmanager.get_plugin("microstack-run")
        return state if isinstance(state, RunState) else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        from pytest_microstack._session.run_state import uses_own_fixture

        funcargs = getattr(item, "funcargs", {})
        if not uses_own_fixture(item, "stack") or "stack" not in funcargs:
            return  # a test without the stack (nothing heavy is imported for it)
        from pytest_microstack._core.stack import ComposeStack as Stack

        stack = funcargs.get("stack")
        state = self._state()
        if isinstance(stack, Stack) and self.stack is None:
            self.stack = stack
            self.ready_at = report.stop  # the first stack test's setup ends once the stack is ready
            self.secret_names = tuple(getattr(funcargs.get("stack_settings"), "secrets", ()))
        if not report.failed:
            return
        if not isinstance(stack, Stack) or not stack.fronts or state is None:
            return
        from pytest_microstack._exchanges.records import masked

        section = f"{SECTION}{report.when}"
        try:
            exchanges = exchanges_since(stack, state.test_started.get(item.nodeid))
        except Exception as error:  # noqa: BLE001 - a report part must never hide the test's own error
            report.sections.append((section, f"(unavailable: {type(error).__name__}: {error})"))
            return
        masker = state.masker(stack, getattr(funcargs.get("stack_settings"), "secrets", ()))
        masker.add(state.run_masker.values)
        hidden = [masked(exchange, masker) for exchange in exchanges]
        report.sections.append((section, render(hidden)))
        label = item.nodeid if report.when == "call" else f"{item.nodeid}-{report.when}"
        self._save(state, label, hidden, masker)

    def _save(self, state: RunState, label: str, hidden: list[Exchange], masker: Masker) -> None:
        """Into the test's failure report folder: the lines, and every record in full (masked)."""
        from pytest_microstack._exchanges.records import as_json
        from pytest_microstack._reports.failure_report import folder_name

        folder = state.settings.artifacts / folder_name(label)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / TEXT_FILE).write_text(masker.text(render(hidden)))
            lines = (json.dumps(as_json(exchange), sort_keys=True) for exchange in hidden)
            (folder / JSON_FILE).write_text(masker.text("".join(f"{line}\n" for line in lines)))
        except OSError:
            LOG.exception("the exchanges of %s could not be written under %s", label, folder)

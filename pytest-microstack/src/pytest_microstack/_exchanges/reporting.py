"""A failing test's exchanges: a section of its report (terminal, JUnit XML), files in its artifacts.

Registered by `plugin.py` with the rest of the plugin. Its report hook runs
inside RunState's, which masks every report last: the section is masked with
the rest; the files are masked here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_microstack._core.stack import Stack
    from pytest_microstack._exchanges.records import Exchange
    from pytest_microstack._plugin.run_state import RunState
    from pytest_microstack._reports.masking import Masker

LOG = logging.getLogger(__name__)
SECTION = "exchanges during "  # "exchanges during call"
TEXT_FILE = "exchanges.txt"
JSON_FILE = "exchanges.jsonl"


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
        self.config = config

    def _state(self) -> RunState | None:
        from pytest_microstack._plugin.run_state import RunState

        state = self.config.pluginmanager.get_plugin("microstack-run")
        return state if isinstance(state, RunState) else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if not report.failed:
            return
        from pytest_microstack._core.stack import Stack
        from pytest_microstack._plugin.run_state import uses_own_fixture

        funcargs = getattr(item, "funcargs", {})
        stack = funcargs.get("stack") if uses_own_fixture(item, "stack") else None
        state = self._state()
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

        folder = state.folder / folder_name(label)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / TEXT_FILE).write_text(masker.text(render(hidden)))
            lines = (json.dumps(as_json(exchange), sort_keys=True) for exchange in hidden)
            (folder / JSON_FILE).write_text(masker.text("".join(f"{line}\n" for line in lines)))
        except OSError:
            LOG.exception("the exchanges of %s could not be written under %s", label, folder)

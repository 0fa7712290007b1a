"""Failure reports and the end-of-run summary: the pytest side of `failure_report` and `run_summary`.

A plugin object that plugin.py registers. When a test that used a stack
fails (or a stack fails to start), it saves a failure report under one
artifacts folder per run; at the end of the run it prints a short summary,
adding up what each xdist worker sends the controller.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .run_summary import AppliedFault, RunSummary

if TYPE_CHECKING:
    from .stack import Stack

LOG = logging.getLogger(__name__)
SUMMARY_KEY = "microstack_summary"
DEFAULT_ARTIFACTS = ".artifacts"


def artifacts_folder(config: pytest.Config, run_id: str) -> Path:
    """This run's folder: --stack-artifacts DIR as given, else <rootdir>/<stack_artifacts ini>/<run id>."""
    option = config.getoption("stack_artifacts", None)
    if option:
        return Path(option).resolve()
    base = config.getini("stack_artifacts") or DEFAULT_ARTIFACTS
    return config.rootpath / base / run_id


class RunReports:
    """Saves failure reports into the run's folder and keeps the run's summary."""

    def __init__(self, config: pytest.Config, folder: Path) -> None:
        self.config = config
        self.folder = folder
        self.summary = RunSummary()

    # What the fixtures tell it.
    def stack_opened(self, stack: Stack) -> None:
        if stack.startup:
            self.summary.record_start(stack.startup)
        else:
            self.summary.stacks_reused += 1  # attached to a kept stack: nothing started

    def stack_closed(self, stack: Stack) -> None:
        self.summary.waiting_seconds += stack.waited

    def faults_done(self, faults: Iterable[AppliedFault]) -> None:
        self.summary.record_faults(faults)

    def start_failed(self, stack: Stack, error: Exception, secret_names: Iterable[str]) -> None:
        self.summary.start_failures += 1
        self.save(stack, secret_names, f"startup-{stack.project}", f"start-up failed:\n{error}")

    def save(self, stack: Stack, secret_names: Iterable[str], label: str, what_failed: str) -> None:
        """Save a failure report; a report that can't be written is logged, never raised."""
        from .failure_report import folder_name, save_report
        from .masking import Masker, secret_values

        masker = Masker(secret_values(stack.compose.environment, secret_names))
        try:
            path = save_report(stack, self.folder / folder_name(label), masker, what_failed)
        except OSError:
            LOG.exception("failure report for %s could not be written under %s", label, self.folder)
            return
        self.summary.reports.append(str(path))

    # Hooks.
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        funcargs = getattr(item, "funcargs", {})
        stack = funcargs.get("stack")
        if not report.failed or stack is None:
            return
        from .stack import Stack

        if not isinstance(stack, Stack):
            return
        settings = funcargs.get("stack_settings")
        secret_names: tuple[str, ...] = getattr(settings, "secrets", ())
        label = item.nodeid if report.when == "call" else f"{item.nodeid}-{report.when}"
        what = f"test: {item.nodeid}\nphase: {report.when}\n\n{report.longreprtext}"
        self.save(stack, secret_names, label, what)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """On an xdist worker, hand the summary to the controller (after session teardown)."""
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[SUMMARY_KEY] = self.summary.to_dict()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """On the xdist controller: add up a finished worker's summary."""
        output = getattr(node, "workeroutput", None) or {}
        if SUMMARY_KEY in output:
            self.summary.merge(RunSummary.from_dict(output[SUMMARY_KEY]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.summary.render()
        if lines:
            terminalreporter.write_sep("-", "microstack")
            for line in lines:
                terminalreporter.write_line(line)

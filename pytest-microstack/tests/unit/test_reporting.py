"""pytest_microstack.reporting: summaries cross from xdist workers to the controller, printed once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pytest_microstack.reporting import SUMMARY_KEY, RunReports
from pytest_microstack.run_summary import RunSummary


class Terminal:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.lines.append(f"--- {title} ---")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def reports(tmp_path: Path, **config: Any) -> RunReports:
    return RunReports(SimpleNamespace(**config), tmp_path)  # type: ignore[arg-type]


def worker_summary(started: float) -> RunSummary:
    summary = RunSummary()
    summary.stacks_started = 1
    summary.startup = {"api": [started]}
    summary.faults_injected = summary.faults_healed = 2
    return summary


def test_a_worker_hands_its_summary_over_in_workeroutput(tmp_path: Path) -> None:
    workeroutput: dict[str, Any] = {}
    worker = reports(tmp_path, workeroutput=workeroutput)
    worker.summary = worker_summary(1.0)

    worker.pytest_sessionfinish(session=None)  # type: ignore[arg-type]

    assert RunSummary.from_dict(workeroutput[SUMMARY_KEY]) == worker.summary


def test_the_controller_adds_up_its_workers_and_prints_one_summary(tmp_path: Path) -> None:
    controller = reports(tmp_path)
    for started in (1.0, 3.0):
        node = SimpleNamespace(workeroutput={SUMMARY_KEY: worker_summary(started).to_dict()})
        controller.pytest_testnodedown(node, error=None)
    controller.pytest_testnodedown(
        SimpleNamespace(workeroutput={}), error=None
    )  # a worker that used no stack
    terminal = Terminal()

    controller.pytest_terminal_summary(terminal)

    assert terminal.lines[0] == "--- microstack ---"
    assert "stacks: 2 started" in terminal.lines
    assert "  api  2.00 s mean, 3.00 s max (2 starts)" in terminal.lines
    assert "faults: 4 injected in 0.0 s, 4 healed in 0.0 s" in terminal.lines


def test_a_run_that_used_no_stack_prints_nothing(tmp_path: Path) -> None:
    terminal = Terminal()

    reports(tmp_path).pytest_terminal_summary(terminal)

    assert terminal.lines == []

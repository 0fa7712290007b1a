"""_session.run_state: summaries and kept stacks go from xdist workers to the controller, printed once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pytest_microstack._reports.run_summary import RunSummary
from pytest_microstack._session.run_state import WORKER_KEY, RunState


class Terminal:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.lines.append(f"--- {title} ---")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def run_state(pytester: pytest.Pytester) -> RunState:
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\n")
    state = pytester.parseconfigure().pluginmanager.get_plugin("microstack-run")
    assert isinstance(state, RunState)
    return state


def worker_summary(started: float) -> RunSummary:
    summary = RunSummary()
    summary.stacks_started = 1
    summary.startup = {"api": [started]}
    summary.faults_injected = summary.faults_healed = 2
    return summary


def test_a_worker_hands_its_summary_and_kept_stacks_over_in_one_workeroutput_key(
    pytester: pytest.Pytester,
) -> None:
    worker = run_state(pytester)
    workeroutput: dict[str, Any] = {}
    worker.config.workeroutput = workeroutput  # type: ignore[attr-defined]  # what xdist sets on a worker
    worker.summary = worker_summary(1.0)
    worker.kept.append("kept stack microstack-it-ab-gw0")

    worker.pytest_sessionfinish(session=None, exitstatus=0)  # type: ignore[arg-type]

    assert list(workeroutput) == [WORKER_KEY]
    assert RunSummary.from_dict(workeroutput[WORKER_KEY]["summary"]) == worker.summary
    assert workeroutput[WORKER_KEY]["kept"] == ["kept stack microstack-it-ab-gw0"]


def test_the_controller_adds_up_its_workers_and_prints_one_summary(pytester: pytest.Pytester) -> None:
    controller = run_state(pytester)
    for number, started in enumerate((1.0, 3.0)):
        part = {"kept": [f"kept {number}"], "coverage": False, "summary": worker_summary(started).to_dict()}
        controller.pytest_testnodedown(SimpleNamespace(workeroutput={WORKER_KEY: part}), error=None)
    controller.pytest_testnodedown(
        SimpleNamespace(workeroutput={}), error=None
    )  # a worker that used no stack
    terminal = Terminal()

    controller.pytest_terminal_summary(terminal)

    assert terminal.lines[:3] == ["--- stacks left running ---", "kept 0", "kept 1"]
    assert "--- microstack ---" in terminal.lines
    assert "stacks: 2 started" in terminal.lines
    assert "  api  2.00 s mean, 3.00 s max (2 starts)" in terminal.lines
    assert "faults: 4 injected in 0.0 s, 4 healed in 0.0 s" in terminal.lines


def test_a_run_that_used_no_stack_prints_nothing(pytester: pytest.Pytester) -> None:
    terminal = Terminal()

    run_state(pytester).pytest_terminal_summary(terminal)

    assert terminal.lines == []


def test_a_failing_end_of_run_sweep_is_logged_and_never_fails_the_finished_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 24 §7: an error of the sweep at session finish turned a green run into an INTERNALERROR."""
    from pytest_microstack._core import lifecycle

    def broken_sweep() -> list[str]:
        raise OverflowError("signed integer is greater than maximum")

    monkeypatch.setattr(lifecycle, "sweep_leftovers", broken_sweep)
    state = run_state(pytester)
    state.used_engine = True

    state.pytest_sessionfinish(session=None, exitstatus=0)  # type: ignore[arg-type]

    assert "sweep of dead runs' leftovers failed" in caplog.text
    assert "signed integer is greater than maximum" in caplog.text


def test_a_teardown_registered_by_a_start_up_cut_short_finishes_at_session_finish(
    pytester: pytest.Pytester,
) -> None:
    """Issue 24 §11: a Ctrl-C during start-up opened no stack (used_engine stayed False), so its
    teardown was left to the atexit backstop, which runs after thread pools refuse work."""
    from pytest_microstack._cleanup import backstop

    torn_down: list[str] = []
    backstop.register("microstack-it-cut-main", lambda: torn_down.append("microstack-it-cut-main"))
    state = run_state(pytester)
    assert state.used_engine is False

    state.pytest_sessionfinish(session=None, exitstatus=pytest.ExitCode.INTERRUPTED)  # type: ignore[arg-type]

    assert torn_down == ["microstack-it-cut-main"]
    backstop.unregister("microstack-it-cut-main")

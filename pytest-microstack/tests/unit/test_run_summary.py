"""pytest_microstack._reports.run_summary: the end-of-run figures, added up across xdist workers."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_microstack._reports.run_summary import RunSummary


@dataclass
class Result:
    service: str
    elapsed: float


@dataclass
class Applied:
    inject_seconds: float
    heal_seconds: float | None


def test_an_unused_run_renders_nothing() -> None:
    assert RunSummary().render() == []


def test_one_stack_with_faults_renders_each_figure() -> None:
    summary = RunSummary()
    summary.record_start([Result("api", 1.234), Result("db", 0.5)])
    summary.waiting_seconds = 3.25
    summary.record_faults([Applied(0.25, 1.5), Applied(0.5, 2.0), Applied(0.125, None)])

    assert summary.render() == [
        "stacks: 1 started",
        "start-up, until ready:",
        "  api  1.23 s",
        "  db   0.50 s",
        "waiting for readiness: 3.2 s (start-up, checks after tests, heals)",
        "faults: 3 injected in 0.9 s, 2 healed in 3.5 s",
    ]


def test_workers_summaries_are_added_up_through_plain_dicts() -> None:
    first, second = RunSummary(), RunSummary()
    first.record_start([Result("api", 1.0)])
    first.record_faults([Applied(0.1, 1.0)])
    first.reports.append("/run/a1b2/tests_test_x.py_test_y")
    second.record_start([Result("api", 2.0)])
    second.start_failures = 1
    second.waiting_seconds = 4.0
    second.reports.append("/run/a1b2/startup-microstack-it-a1b2-gw1")

    controller = RunSummary()
    for worker in (first, second):
        controller.merge(RunSummary.from_dict(worker.to_dict()))

    assert controller.render() == [
        "stacks: 2 started, 1 failed to start",
        "start-up, until ready:",
        "  api  1.50 s mean, 2.00 s max (2 starts)",
        "waiting for readiness: 4.0 s (start-up, checks after tests, heals)",
        "faults: 1 injected in 0.1 s, 1 healed in 1.0 s",
        "failure reports: 2 in /run/a1b2",
    ]


def test_a_reused_stack_is_counted_apart_from_started_ones() -> None:
    summary = RunSummary(stacks_reused=1)

    assert summary.render()[0] == "stacks: 0 started, 1 reused"


def test_unknown_keys_from_another_version_are_ignored() -> None:
    assert RunSummary.from_dict({"stacks_started": 2, "added_later": 1}).stacks_started == 2


def test_the_engine_is_named_once_across_workers() -> None:
    first, second = RunSummary(), RunSummary()
    for worker in (first, second):
        worker.record_start([Result("api", 1.0)])
        worker.record_engine("Podman 4.3.1 (API 1.41)")
        worker.record_engine("Podman 4.3.1 (API 1.41)")

    controller = RunSummary()
    for worker in (first, second):
        controller.merge(RunSummary.from_dict(worker.to_dict()))

    assert controller.render()[:2] == ["stacks: 2 started", "engine: Podman 4.3.1 (API 1.41)"]

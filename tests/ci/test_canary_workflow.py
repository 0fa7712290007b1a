"""The canary workflow (issue 23, 2): when it runs, what each job runs, and that `nox -s lint` checks it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import noxfile

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / ".github/workflows/canary.yml"
WATCHED = {"requirements/**", "scripts/bootstrap"}


def workflow() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(CANARY.read_text())
    # YAML 1.1 reads the key `on` as True.
    loaded["on"] = loaded.pop(True)
    return loaded


def test_it_runs_weekly_on_demand_and_when_a_lock_or_the_set_up_changes() -> None:
    on = workflow()["on"]

    [schedule] = on["schedule"]
    _minute, _hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert (day_of_month, month) == ("*", "*"), "once a week"
    assert day_of_week.isdigit(), "on one day of the week"
    assert set(on["push"]["paths"]) >= WATCHED
    assert set(on["pull_request"]["paths"]) >= WATCHED
    assert "workflow_dispatch" in on


def test_four_jobs_each_run_one_canary_and_name_it() -> None:
    jobs = workflow()["jobs"]

    commands = {
        name: [step["run"] for step in job["steps"] if "run" in step and "if" not in step]
        for name, job in jobs.items()
    }
    assert commands == {
        "fresh-setup": [".ci/run"],
        "minimums": ["scripts/bootstrap", ".venv/bin/nox -s minimums"],
        "latest": ["scripts/bootstrap", ".venv/bin/nox -s latest"],
        "docs-links": ["scripts/bootstrap --venv-only", ".venv/bin/nox -s docs_links"],
    }
    assert [job["name"] for job in jobs.values()] == [
        "canary: the README's set-up on a fresh runner (.ci/run)",
        "canary: the lowest declared dependency versions (nox -s minimums)",
        "canary: the newest dependency releases (nox -s latest)",
        "canary: the documentation site's external links (nox -s docs_links)",
    ]
    uses = [step["uses"] for job in jobs.values() for step in job["steps"] if "uses" in step]
    assert not [action for action in uses if action.startswith("actions/cache")], "fresh: nothing restored"


def test_it_runs_with_least_privilege() -> None:
    loaded = workflow()

    assert loaded["permissions"] == {}
    for job in loaded["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        checkout = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["persist-credentials"] is False


def test_nox_lint_checks_it_against_the_schema_and_zizmor() -> None:
    assert ".github/workflows/canary.yml" in noxfile.WORKFLOWS

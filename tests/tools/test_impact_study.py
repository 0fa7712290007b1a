"""tools.impact's progress file (what makes the studies resumable) and the BENCHMARKS.md section it feeds."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from bench.impact_figures import section
from tools.impact.__main__ import judge, whole_suite
from tools.impact.progress import Progress
from tools.impact.tree import Tree

KEY = {"base": "abc", "edits": 3, "testmon": True}


def edit_row(
    share: float, ratio: float, *, missed: list[str], testmon_missed: list[str]
) -> dict[str, object]:
    return {
        "selected": round(share * 100),
        "total": 100,
        "share": share,
        "ratio": ratio,
        "selection_seconds": 0.2,
        "failed": sorted({*missed, *testmon_missed}),
        "missed": missed,
        "testmon_missed": testmon_missed,
        "testmon_selected": 0,
        "subject": "product-service: a 502",
    }


def test_a_later_session_continues_where_the_last_stopped(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    first = Progress(path, KEY)
    first.note(whole_seconds=100.0)
    first.record("c1", {"share": 0.1})

    again = Progress(path, KEY)

    assert "c1" in again
    assert "c2" not in again
    assert again.extra == {"whole_seconds": 100.0}
    assert not path.with_name("results.json.tmp").exists()


def test_results_of_another_base_or_count_are_not_mixed_in(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    Progress(path, KEY).record("c1", {"share": 0.1})

    assert not Progress(path, {**KEY, "base": "def"}).done
    assert not Progress(path, {**KEY, "edits": 30}).done


def test_a_file_that_is_not_a_progress_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("{not json")

    with pytest.raises(SystemExit, match=r"results\.json: not a study's progress"):
        Progress(path, KEY)


def test_the_section_shows_the_medians_against_their_targets_and_says_partial(tmp_path: Path) -> None:
    rows = {
        "c1": edit_row(0.10, 0.30, missed=[], testmon_missed=["t::a"]),
        "c2": edit_row(0.20, 0.50, missed=[], testmon_missed=[]),
    }
    extra = {"whole_seconds": 120.0, "coverage_seconds": 110.0, "coverage_without_contexts_seconds": 100.0}
    (tmp_path / "impact_edits.json").write_text(json.dumps({"key": KEY, "extra": extra, "done": rows}))

    text = "\n".join(section(tmp_path))

    assert "2 of 3 edits measured (partial" in text
    assert "| median share of integration tests selected | 15% | <= 25% | met |" in text
    assert "| 0.40x (whole suite 120 s) | <= 0.35x | **missed** |" in text
    assert "| the same failures pytest-testmon missed | 1 |" in text
    assert "| +10% (110 s against 100 s) | <= 20% | met |" in text


def test_the_section_says_how_busy_the_machine_was(tmp_path: Path) -> None:
    rows = {
        "c1": {**edit_row(0.10, 0.30, missed=[], testmon_missed=[]), "load": 4.0},
        "c2": {**edit_row(0.20, 0.50, missed=[], testmon_missed=[]), "load": 12.5},
        "c3": {**edit_row(0.20, 0.50, missed=[], testmon_missed=[]), "load": 6.0},
    }
    extra = {"whole_seconds": 120.0, "whole_load": 3.25}
    (tmp_path / "impact_edits.json").write_text(json.dumps({"key": KEY, "extra": extra, "done": rows}))

    text = "\n".join(section(tmp_path))

    assert (
        "Load average (1 min) as each edit's runs ended: median 6.0, from 4.0 to 12.5; "
        "as the whole suite's run ended: 3.2." in text
    )


@pytest.mark.parametrize(("slowest", "verdict"), [(0.99, "met"), (1.0, "**missed**")])
def test_the_selection_retimed_is_judged_and_the_loaded_timing_only_shown(
    tmp_path: Path, slowest: float, verdict: str
) -> None:
    rows = {
        "c1": {**edit_row(0.1, 0.3, missed=[], testmon_missed=[]), "selection_seconds": 1.5},
        "c2": edit_row(0.2, 0.5, missed=[], testmon_missed=[]),
    }
    rows["c1"]["selection_retimed"] = {"seconds": [0.1, slowest, 2.0], "load": 0.4}
    rows["c2"]["selection_retimed"] = {"seconds": [0.3, 0.2, 0.25], "load": 1.2}
    (tmp_path / "impact_edits.json").write_text(json.dumps({"key": KEY, "extra": {}, "done": rows}))

    text = "\n".join(section(tmp_path))

    assert (
        "| the selection itself, timed again by collection only (slowest of 2 edits, each the median of 3;"
        f" load 0.4-1.2) | {slowest:.2f} s (median {(slowest + 0.25) / 2:.2f} s) | < 1 s | {verdict} |"
    ) in text
    assert (
        "| the selection itself, while the suites ran (slowest of the edits) | 1.50 s (median 0.85 s)"
        " | < 1 s | (under load) |"
    ) in text


def test_without_a_retiming_the_loaded_selection_time_is_judged(tmp_path: Path) -> None:
    rows = {"c1": {**edit_row(0.1, 0.3, missed=[], testmon_missed=[]), "selection_seconds": 1.0}}
    (tmp_path / "impact_edits.json").write_text(json.dumps({"key": KEY, "extra": {}, "done": rows}))

    text = "\n".join(section(tmp_path))

    row = "| the selection itself (slowest of the edits) | 1.00 s (median 1.00 s) | < 1 s | **missed** |"
    assert row in text


def test_an_edits_subject_with_a_newline_stays_in_its_row(tmp_path: Path) -> None:
    row = {**edit_row(0.1, 0.3, missed=[], testmon_missed=[]), "subject": "Hostile input (issue 12)\n"}
    (tmp_path / "impact_edits.json").write_text(json.dumps({"key": KEY, "extra": {}, "done": {"c1": row}}))

    lines = section(tmp_path)

    assert [line for line in lines if line.startswith("| `c1` | Hostile input (issue 12) | 10/100 (10%) |")]
    assert not [line for line in lines if "\n" in line]


def test_the_mutant_line_counts_escapes(tmp_path: Path) -> None:
    done = {
        "m1": {"outcome": "killed by the selection", "seconds": 40.0},
        "m2": {"outcome": "ESCAPE", "seconds": 200.0},
        "m3": {"outcome": "survives the whole suite", "seconds": 150.0},
        "m4": {"outcome": "every test selected", "seconds": 1.0},  # nothing ran: not in the median
    }
    key = {"base": "abc", "seed": 27, "mutants": 200}
    (tmp_path / "impact_mutants.json").write_text(json.dumps({"key": key, "extra": {}, "done": done}))

    text = "\n".join(section(tmp_path))

    assert (
        "4 of 200 mutants studied, 1 select every test (the whole suite: no escape possible, not run), "
        "1 killed by the selection, 1 survive the whole suite, **1 escapes**" in text
    )
    assert "median 150 s a mutant that ran" in text


def test_without_results_the_section_says_how_to_make_them(tmp_path: Path) -> None:
    assert "Not run: there is no `bench/results/impact_edits.json`" in "\n".join(section(tmp_path))


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        pytest.param({"everything": "every test: x"}, "every test selected", id="whole-suite-not-run"),
        pytest.param({"selected_failed": ["t"], "selected_exit": 2}, "killed by the selection", id="killed"),
        pytest.param({"selected_failed": [], "selected_exit": 1}, "killed by the selection", id="exit-1"),
        pytest.param(
            {"selected_failed": [], "selected_exit": 0, "rest_failed": ["t"]}, "ESCAPE", id="rest-failed"
        ),
        pytest.param(
            {"selected_failed": [], "selected_exit": 5, "rest_failed": [], "rest_exit": 0},
            "survives the whole suite",
            id="survives",
        ),
    ],
)
def test_a_mutants_outcome_follows_its_runs(result: dict[str, object], outcome: str) -> None:
    assert judge(result) == outcome


def _tree_at(root: Path) -> Tree:
    tree = Tree.__new__(Tree)  # the study's tree, without making a worktree of this repository
    tree.folder, tree.base = root, "HEAD"
    return tree


def test_the_study_tells_a_whole_suite_selection_without_running_pytest(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    app = root / "svc" / "app.py"
    app.parent.mkdir(parents=True)
    app.write_text("def started():\n    return 1\n\n\ndef handled():\n    return 2\n")
    (root / ".gitignore").write_text(".microstack-impact.json\n")
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "b"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    recording = {  # the recording's version-1 format (docs/how-to/impact.md): line 2 at start-up only
        "version": 1,
        "commit": head,
        "dirty": [],
        "tests": ["tests/test_a.py::test_a"],
        "passed": [0],
        "sets": [[-1], [0]],
        "files": {
            "svc/app.py": {"sha256": hashlib.sha256(app.read_bytes()).hexdigest(), "lines": {"2": 0, "6": 1}}
        },
    }
    (root / ".microstack-impact.json").write_text(json.dumps(recording))

    assert whole_suite(_tree_at(root)) is None  # no change
    app.write_text(app.read_text().replace("return 2", "return 3"))
    assert whole_suite(_tree_at(root)) is None  # one test's function
    app.write_text(app.read_text().replace("return 1", "return 0"))
    reason = whole_suite(_tree_at(root))
    assert reason is not None
    assert "started also ran outside any test" in reason

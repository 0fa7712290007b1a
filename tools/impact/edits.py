"""The 30-edit benchmark of `--stack-impact`, with pytest-testmon beside it (issue 27 §3), and its costs (§4).

    python -m tools.impact.edits [--edits 30] [--base HEAD] [--minutes 240] [--no-testmon] [--add-reasons]
    python -m tools.impact.edits --retime-selection [--runs 3]

The edits are this repository's own history of service changes: for each of the
last commits that changed services/*/src (newest first), that commit's change to
services/*/src undone on BASE (`git diff C^ C | git apply -R`), skipping those
that no longer apply, until `--edits` of them. In a worktree of BASE
(.artifacts/impact/tree, shared with the mutant study and kept between sessions):

- once: a plain run of the integration suite at -n 2 (the whole suite's time),
  the --stack-coverage run that records the contexts, the same run with the
  contexts switched off (`tools.impact.without_contexts`: their cost), and
  pytest-testmon's recording run (`--testmon`, at -n 2);
- per edit: the selection (collection only: its share and its own seconds), the
  selected tests at -n 2 (their wall time), the rest of the suite (with the
  selected tests' failures: the whole suite's failures, which a selection must
  not miss), and pytest-testmon's selection on the same edit (collection only,
  `--testmon-nocollect --testmon-forceselect`: without forceselect, -m turns its
  selection off), with the whole suite's failures it leaves out.

`--add-reasons` fills in, by collection only, the reasons and testmon's selection
of rows an older version of this tool measured without them (its testmon runs had
testmon's selection off: those figures are dropped).

`--retime-selection` times the selection of every measured edit again, by
collection only (`--runs` times each, on a machine that runs nothing else): the
per-edit seconds above are taken while the suites run, and on 2 cores they time
the load as much as the selection.

The time ratio divides two runs made minutes apart on the same machine: on a busy
machine both slow down together, so the ratio holds better than either time.
Resumable: figures go to bench/results/impact_edits.json after every edit; a
later session with the same BASE and count continues. No new edit starts after
`--minutes`. `python -m bench.report` renders the JSON into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.impact.progress import Progress
from tools.impact.tree import RECORDING, ROOT, Tree, collect, git

WORK = ROOT / ".artifacts" / "impact"
DEFAULT_RESULTS = ROOT / "bench" / "results" / "impact_edits.json"
# Blocked in pytest.ini (`-p no:pytest-testmon`): loaded for these runs only. testmon turns its
# selection off when -m is given, unless --testmon-forceselect; --testmon-nocollect keeps its data
# as BASE recorded it.
TESTMON = ("-p", "pytest-testmon")
TESTMON_SELECT = (*TESTMON, "--testmon-nocollect", "--testmon-forceselect")
SERVICE_CODE = "services/*/src/*.py"  # `*` crosses folders in a pathspec


@contextmanager
def undone(tree: Tree, patch: str) -> Iterator[None]:
    """The tree with the edit's change undone, and restored to BASE after."""
    subprocess.run(["git", "apply", "-R", "-"], cwd=tree.folder, input=patch, text=True, check=True)
    try:
        yield
    finally:
        tree.restore()


def measured(
    tree: Tree, progress: Progress, edits: list[tuple[str, str, str]]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, patch, row) of each edit already measured: for the modes that add to its row."""
    if not tree.recorded():
        raise SystemExit(f"no recording of BASE in {tree.folder}: copy {RECORDING} there, or run the study")
    for name, _, patch in edits:
        row = progress.done.get(name)
        if row is not None:
            yield name, patch, row


def _undoes(tree: Tree, patch: str) -> bool:
    check = subprocess.run(
        ["git", "apply", "-R", "--check", "-"], cwd=tree.folder, input=patch, text=True, capture_output=True
    )
    return check.returncode == 0


def historical_edits(tree: Tree, wanted: int) -> list[tuple[str, str, str]]:
    """(name, commit, patch): service changes of past commits that undo cleanly on BASE.

    A commit's whole change when it undoes cleanly; else, each of its files' changes
    that does (the code around the rest has moved on since).
    """
    found: list[tuple[str, str, str]] = []
    # Not merges: their diff is a whole branch's.
    for commit in git("log", "--no-merges", "--format=%H", tree.base, "--", SERVICE_CODE).split():
        patch = git("diff", f"{commit}^", commit, "--", SERVICE_CODE)
        if _undoes(tree, patch):
            found.append((commit[:12], commit, patch))
        else:
            for path in git("diff", "--name-only", f"{commit}^", commit, "--", SERVICE_CODE).split():
                one = git("diff", f"{commit}^", commit, "--", path)
                if _undoes(tree, one):
                    found.append((f"{commit[:12]}:{path.removeprefix('services/')}", commit, one))
        if len(found) >= wanted:
            break
    return found[:wanted]


def baseline(tree: Tree, progress: Progress, testmon_env: dict[str, str], with_testmon: bool) -> None:
    """The once-per-BASE runs, each skipped when an earlier session made it."""
    if "whole_seconds" not in progress.extra:
        whole = tree.pytest()
        progress.note(whole_seconds=whole.seconds, whole_failed=whole.failed, whole_load=_load())
    if not tree.recorded() or "coverage_seconds" not in progress.extra:
        recorded = tree.pytest("--stack-coverage")
        if recorded.code != 0:
            raise SystemExit(f"the recording run failed ({recorded.failed}): fix BASE first")
        progress.note(coverage_seconds=recorded.seconds)
    if "coverage_without_contexts_seconds" not in progress.extra:
        scratch = WORK / "without-contexts.json"
        plain = tree.pytest(
            "--stack-coverage", "-p", "tools.impact.without_contexts", f"--stack-impact-file={scratch}"
        )
        progress.note(coverage_without_contexts_seconds=plain.seconds)
    if with_testmon and "testmon_seconds" not in progress.extra:
        Path(testmon_env["TESTMON_DATAFILE"]).unlink(missing_ok=True)
        recorded = tree.pytest(*TESTMON, "--testmon", env=testmon_env)
        progress.note(testmon_seconds=recorded.seconds)


def measure(tree: Tree, suite: list[str], with_testmon: bool, testmon_env: dict[str, str]) -> dict[str, Any]:
    """One edit, applied to the tree: the selection, its run, the rest, testmon's."""
    chosen = collect(tree)
    picked = set(chosen.tests)
    impact = tree.pytest("--stack-impact", tree.base) if chosen.tests else None
    rest_ids = tuple(nodeid for nodeid in suite if nodeid not in picked)
    rest = tree.pytest(paths=rest_ids) if rest_ids else None
    failed = sorted(set(impact.failed if impact else []) | set(rest.failed if rest else []))
    row: dict[str, Any] = {
        "selected": len(chosen.tests),
        "total": len(suite),
        "share": len(chosen.tests) / len(suite),
        "selection_seconds": chosen.seconds,
        "reasons": chosen.reasons,
        "seconds": impact.seconds if impact else 0.0,
        "rest_seconds": rest.seconds if rest else 0.0,
        "failed": failed,
        "missed": sorted(set(failed) - picked),
        "load": _load(),
    }
    if with_testmon:
        row.update(testmon_row(tree, failed, testmon_env))
    return row


def _load() -> float:
    """The machine's 1-minute load average as a run ends: how busy it was while it was timed."""
    return round(os.getloadavg()[0], 2)


def testmon_row(tree: Tree, failed: list[str], testmon_env: dict[str, str]) -> dict[str, Any]:
    """What pytest-testmon selects for the edit in the tree, and the whole suite's failures it leaves out."""
    chosen = collect(tree, impact=False, extra=TESTMON_SELECT, env=testmon_env)
    return {
        "testmon_selected": len(chosen.tests),
        "testmon_missed": sorted(set(failed) - set(chosen.tests)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--minutes", type=float, default=240, help="no new edit starts after this")
    parser.add_argument("--no-testmon", dest="testmon", action="store_false")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="figures so far (resumed)")
    parser.add_argument("--tree", type=Path, default=WORK / "tree", help="the worktree of BASE to work in")
    parser.add_argument(
        "--add-reasons",
        action="store_true",
        help="only fill in the selection's reasons of edits measured without them (collection only)",
    )
    parser.add_argument(
        "--retime-selection",
        action="store_true",
        help="only time the selection of every measured edit again (collection only, --runs times each)",
    )
    parser.add_argument("--runs", type=int, default=3, help="collections per edit for --retime-selection")
    args = parser.parse_args()
    stop_at = time.monotonic() + args.minutes * 60
    tree = Tree(args.base, args.tree.resolve())
    progress = Progress(args.results, {"base": tree.base, "edits": args.edits, "testmon": args.testmon})
    testmon_env = {"TESTMON_DATAFILE": str(WORK / "testmondata")}  # outside the tree: not a change
    if args.add_reasons:
        add_reasons(tree, progress, historical_edits(tree, args.edits), testmon_env)
        return
    if args.retime_selection:
        retime_selection(tree, progress, historical_edits(tree, args.edits), args.runs)
        return
    baseline(tree, progress, testmon_env, args.testmon)
    suite = collect(tree, impact=False).tests
    edits = historical_edits(tree, args.edits)
    progress.note(
        source="the last commits that changed services/*/src, each undone on BASE", planned=len(edits)
    )
    for name, commit, patch in edits:
        if name in progress:
            continue
        if time.monotonic() > stop_at:
            break
        with undone(tree, patch):
            row = measure(tree, suite, args.testmon, testmon_env)
        row["subject"] = git("log", "-1", "--format=%s", commit)[:100]
        row["ratio"] = row["seconds"] / progress.extra["whole_seconds"]
        progress.record(name, row)
        print(  # noqa: T201
            f"{name}: {row['selected']}/{row['total']} selected, {row['ratio']:.2f}x, "
            f"missed {len(row['missed'])}, testmon missed {len(row.get('testmon_missed', []))}",
            flush=True,
        )
    summary(progress)


def add_reasons(
    tree: Tree, progress: Progress, edits: list[tuple[str, str, str]], testmon_env: dict[str, str]
) -> None:
    """The selection's reasons, and testmon's selection, for rows an older version measured without."""
    for name, patch, row in measured(tree, progress, edits):
        if "reasons" in row and "testmon_selected" in row:
            continue
        with undone(tree, patch):
            reasons = collect(tree).reasons
            testmon = testmon_row(tree, row["failed"], testmon_env)
        stale = ("testmon_failed", "testmon_ran", "testmon_seconds")  # runs made with testmon's selection off
        kept = {key: value for key, value in row.items() if key not in stale}
        progress.record(name, {**kept, "reasons": reasons, **testmon})  # not while a study writes it


def retime_selection(tree: Tree, progress: Progress, edits: list[tuple[str, str, str]], runs: int) -> None:
    """Each measured edit's selection timed `runs` times, with the load; stops if a selection changed."""
    for name, patch, row in measured(tree, progress, edits):
        with undone(tree, patch):
            chosen = [collect(tree) for _ in range(runs)]
        if {len(one.tests) for one in chosen} != {row["selected"]}:
            counts = [len(one.tests) for one in chosen]
            raise SystemExit(f"{name}: selected {counts} now, {row['selected']} when measured")
        seconds = [one.seconds for one in chosen if one.seconds is not None]
        load = _load()
        progress.record(name, {**row, "selection_retimed": {"seconds": seconds, "load": load}})
        print(f"{name}: selection {statistics.median(seconds):.2f} s (load {load:.1f})", flush=True)  # noqa: T201


def summary(progress: Progress) -> None:
    rows = list(progress.done.values())
    if not rows:
        print("no edit measured yet")  # noqa: T201
        return
    print(  # noqa: T201
        f"{len(rows)} edits: median share selected {statistics.median(r['share'] for r in rows):.0%}, "
        f"median time {statistics.median(r['ratio'] for r in rows):.2f}x the whole suite "
        f"({progress.extra['whole_seconds']:.0f} s at -n 2); details: {progress.path}"
    )


if __name__ == "__main__":
    main()

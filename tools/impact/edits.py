"""The 30-edit benchmark of `--stack-impact` (and pytest-testmon beside it): for the lead, on a quiet machine.

    python -m tools.impact.edits [--edits 30] [--base HEAD] [--testmon]

The edits are this repository's own history of service changes: for each of the
last commits that changed services/*/src (newest first), that commit's change to
services/*/src undone on BASE (`git diff C^ C | git apply -R`), skipping those
that no longer apply, until `--edits` of them. In a worktree of BASE: one
--stack-coverage run records the contexts, one plain run at -n 2 times the whole
suite; then per edit, `--stack-impact BASE` at -n 2 (share selected, wall time)
and the whole suite (its failures: what a selection must not miss). With
`--testmon`, pytest-testmon (installed separately: `pip install pytest-testmon`)
records on BASE once and selects per edit too; the failures it misses are listed.
Figures: median share selected, median time against the whole suite; JSON and a
Markdown table in .artifacts/impact/edits.{json,md}, for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from typing import Any

from tools.impact.tree import ROOT, Tree, git, selected_tests

WORK = ROOT / ".artifacts" / "impact"


def historical_edits(tree: Tree, wanted: int) -> list[tuple[str, str]]:
    """(commit, patch) pairs: service changes of past commits that undo cleanly on BASE."""
    found: list[tuple[str, str]] = []
    for commit in git("log", "--format=%H", tree.base, "--", "services/*/src").split():
        patch = git("diff", f"{commit}^", commit, "--", "services/*/src/*.py", "services/*/src/*/*.py")
        if not patch.strip():
            continue
        check = subprocess.run(
            ["git", "apply", "-R", "--check", "-"],
            cwd=tree.folder,
            input=patch,
            text=True,
            capture_output=True,
        )
        if check.returncode == 0:
            found.append((commit, patch))
        if len(found) == wanted:
            break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--testmon", action="store_true")
    args = parser.parse_args()
    tree = Tree(args.base, WORK / "edits-tree")
    rows: list[dict[str, Any]] = []
    try:
        tree.pytest("--stack-coverage")
        whole = tree.pytest()
        if args.testmon:
            tree.pytest("-p", "testmon", "--testmon", workers=0)
        total = len(selected_tests(tree, impact=False)) or 1
        for commit, patch in historical_edits(tree, args.edits):
            subprocess.run(["git", "apply", "-R", "-"], cwd=tree.folder, input=patch, text=True, check=True)
            try:
                chosen = selected_tests(tree)
                impact = tree.pytest("--stack-impact", tree.base)
                full = tree.pytest()
                row: dict[str, Any] = {
                    "commit": commit[:12],
                    "subject": git("log", "-1", "--format=%s", commit)[:80],
                    "selected": len(chosen),
                    "share": len(chosen) / total,
                    "seconds": impact.seconds,
                    "ratio": impact.seconds / whole.seconds,
                    "full_failed": full.failed,
                    "missed": sorted(set(full.failed) - set(chosen)),
                }
                if args.testmon:
                    testmon = tree.pytest("-p", "testmon", "--testmon-nocollect", "--testmon", workers=0)
                    row["testmon_failed"] = testmon.failed
                    row["testmon_missed"] = sorted(set(full.failed) - set(testmon.failed))
            finally:
                tree.restore()
            rows.append(row)
            print(json.dumps(row), flush=True)  # noqa: T201
    finally:
        tree.close()
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "edits.json").write_text(json.dumps(rows, indent=1))
    shares = [row["share"] for row in rows]
    ratios = [row["ratio"] for row in rows]
    lines = [
        f"{len(rows)} edits: median share selected {statistics.median(shares):.0%}, "
        f"median time {statistics.median(ratios):.2f}x the whole suite ({whole.seconds:.0f} s at -n 2)",
        "",
        "| commit | selected | share | time | missed | testmon missed |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['commit']} | {row['selected']} | {row['share']:.0%} | {row['ratio']:.2f}x | "
            f"{len(row['missed'])} | {len(row.get('testmon_missed', []))} |"
        )
    (WORK / "edits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()

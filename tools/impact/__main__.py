"""The mutant study: `--stack-impact` on a mutant's diff selects a test that kills it, for every mutant.

    python -m tools.impact [--mutants 200] [--seed 27] [--deadline SECONDS] [--base HEAD]

In a worktree of BASE (.artifacts/impact/tree): one --stack-coverage run of the
integration suite records the contexts; then, for each of `--mutants` mutmut
mutants of services/*/src (seeded sample), the mutant's file is written and

1. `--stack-impact BASE` runs what it selects (-n 2): a failure means the
   selection kills the mutant;
2. otherwise the whole suite runs: a failure there is an ESCAPE (the full suite
   kills what the selection missed); no failure, a survivor of the whole suite.

Prints one line a mutant and the totals; exits 1 on any escape, 3 when the
deadline (default 6 h) stopped it before the last mutant. Needs the Docker engine;
each mutant rebuilds the image of the service it changes (seconds, from cache).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tools.impact.mutants import sample
from tools.impact.tree import ROOT, Tree

WORK = ROOT / ".artifacts" / "impact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=200)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--deadline", type=float, default=6 * 3600, help="seconds for the whole study")
    parser.add_argument("--base", default="HEAD")
    args = parser.parse_args()
    stop_at = time.monotonic() + args.deadline
    tree = Tree(args.base, WORK / "tree")
    results = []
    try:
        recorded = tree.pytest("--stack-coverage")
        print(f"recording at {tree.base[:12]}: exit {recorded.code} in {recorded.seconds:.0f} s", flush=True)  # noqa: T201
        if recorded.code != 0:
            raise SystemExit(f"the recording run failed ({recorded.failed}): fix BASE first")
        chosen = sample(tree.folder, args.mutants, args.seed)
        for number, mutant in enumerate(chosen, 1):
            if time.monotonic() > stop_at:
                break
            tree.write(mutant.path, mutant.text)
            try:
                selected = tree.pytest("--stack-impact", tree.base)
                outcome, full = "killed by the selection", None
                if selected.code not in (1,):  # 0: passed; 5: nothing selected
                    full = tree.pytest()
                    outcome = "ESCAPE" if full.code == 1 else "survives the whole suite"
            finally:
                tree.restore()
            results.append(
                {
                    "mutant": mutant.name,
                    "outcome": outcome,
                    "selected_exit": selected.code,
                    "selected_failed": selected.failed,
                    "full_failed": full.failed if full else None,
                    "seconds": selected.seconds + (full.seconds if full else 0),
                }
            )
            print(f"[{number}/{len(chosen)}] {mutant.name}: {outcome}", flush=True)  # noqa: T201
    finally:
        tree.close()
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / "mutants.json").write_text(json.dumps(results, indent=1))
    _report(results, args.mutants)


def _report(results: list[dict[str, object]], wanted: int) -> None:
    escapes = [result for result in results if result["outcome"] == "ESCAPE"]
    killed = sum(1 for result in results if result["outcome"] == "killed by the selection")
    print(  # noqa: T201
        f"\n{len(results)} mutants studied: {killed} killed by the selection, "
        f"{len(results) - killed - len(escapes)} survive the whole suite; escapes: {len(escapes)}"
    )
    for escape in escapes:
        print(f"ESCAPE {escape['mutant']}: the whole suite's failures {escape['full_failed']}")  # noqa: T201
    print(f"details: {Path(WORK / 'mutants.json').relative_to(ROOT)}")  # noqa: T201
    if escapes:
        raise SystemExit(1)
    if len(results) < wanted:
        raise SystemExit(3)


if __name__ == "__main__":
    main()

"""The mutant study: `--stack-impact` on a mutant's diff selects a test that kills it, for every mutant.

    python -m tools.impact [--mutants 200] [--seed 27] [--minutes 360] [--base HEAD]
                           [--progress FILE] [--tree DIR]

In a worktree of BASE (.artifacts/impact/tree, kept between sessions): one
--stack-coverage run of the integration suite records the contexts (skipped
when the tree already holds a recording of BASE); then, for each of `--mutants`
mutmut mutants of services/*/src (seeded sample), the mutant's file is written and

0. when `--stack-impact BASE` selects every test, nothing runs: the selection is the
   whole suite, so whatever kills the mutant is selected and no escape is possible
   (counted as such, with the reason it gave). Decided by the plugin's own `decide`,
   in this process: a mutant changes no test, so the tests' list plays no part;
   only a partial selection is collected by pytest;
1. the tests `--stack-impact BASE` selects run (-n 2, stopping at the first
   failure): a failure means the selection kills the mutant;
2. otherwise the rest of the suite runs (the tests it did not select, stopping at
   the first failure): a failure there is an ESCAPE; none, a survivor of the
   whole suite.

Resumable: each mutant's result is written to the progress file (default
bench/results/impact_mutants.json) as soon as it is known; a later session with
the same BASE, seed and count skips the mutants already there. Bounded: no new
mutant starts after `--minutes`. Prints one line a mutant and the totals; exits 1
on any escape, 3 when time ran out before the last mutant. Needs the Docker
engine. Each mutant rebuilds the image of the service it changes: only the last
layers (the package's code, its bytecode), from cache. The code can't be swapped
into a running stack: it is baked into read-only images and a stack lives for
one pytest run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from tools.impact.mutants import sample
from tools.impact.progress import Progress
from tools.impact.tree import RECORDING, ROOT, Tree, collect, selected_tests

WORK = ROOT / ".artifacts" / "impact"
DEFAULT_PROGRESS = ROOT / "bench" / "results" / "impact_mutants.json"
KILLED = "killed by the selection"
ESCAPE = "ESCAPE"
SURVIVES = "survives the whole suite"
EVERYTHING = "every test selected"
FEW = 50  # selected tests run without xdist


def record_base(tree: Tree) -> None:
    """The --stack-coverage run on BASE, unless the tree holds its recording already."""
    if tree.recorded():
        print(f"recording at {tree.base[:12]}: kept from an earlier session", flush=True)  # noqa: T201
        return
    recorded = tree.pytest("--stack-coverage")
    print(f"recording at {tree.base[:12]}: exit {recorded.code} in {recorded.seconds:.0f} s", flush=True)  # noqa: T201
    if recorded.code != 0:
        raise SystemExit(f"the recording run failed ({recorded.failed}): fix BASE first")


def study_one(tree: Tree, suite: list[str]) -> dict[str, Any]:
    """Selected tests first; the rest only when they don't kill. Both stop at the first failure."""
    began = time.monotonic()
    everything = whole_suite(tree)
    if everything is not None:
        return {
            "selected": len(suite),
            "everything": everything,
            "outcome": EVERYTHING,
            "seconds": round(time.monotonic() - began, 1),
        }
    chosen = collect(tree).tests
    # A few tests: one stack, not one a worker (the study wants the kill, not the time).
    workers = 0 if len(chosen) <= FEW else 2
    selected = tree.pytest("--stack-impact", tree.base, "--maxfail=1", workers=workers) if chosen else None
    result: dict[str, Any] = {
        "selected": len(chosen),
        "selected_exit": selected.code if selected else 5,
        "selected_failed": selected.failed if selected else [],
        "rest_failed": None,
    }
    if judge(result) != KILLED:
        picked = set(chosen)
        rest = [nodeid for nodeid in suite if nodeid not in picked]
        ran = tree.pytest("--maxfail=1", paths=tuple(rest)) if rest else None
        result["rest_failed"] = ran.failed if ran else []
        result["rest_exit"] = ran.code if ran else 5
    result["outcome"] = judge(result)
    result["seconds"] = round(time.monotonic() - began, 1)
    return result


def whole_suite(tree: Tree) -> str | None:
    """Why `--stack-impact BASE` selects every test for the tree as it is now; None when it doesn't."""
    from pytest_microstack._impact.selection import decide

    selection = decide(tree.folder, tree.base, tree.folder / RECORDING, (), ignore=[RECORDING])
    reasons = [reason for reason in selection.reasons if reason.startswith("every test")]
    return reasons[0] if selection.everything else None


def judge(result: dict[str, Any]) -> str:
    """The outcome, from the failures each run reported (--maxfail under xdist exits 2, "interrupted")."""
    if result.get("everything"):
        return EVERYTHING
    if result["selected_failed"] or result["selected_exit"] == 1:
        return KILLED
    if result.get("rest_failed") or result.get("rest_exit") == 1:
        return ESCAPE
    return SURVIVES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=200)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--minutes", type=float, default=360, help="no new mutant starts after this")
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--progress", type=Path, default=DEFAULT_PROGRESS, help="results so far (resumed)")
    parser.add_argument("--tree", type=Path, default=WORK / "tree", help="the worktree of BASE to work in")
    args = parser.parse_args()
    stop_at = time.monotonic() + args.minutes * 60
    tree = Tree(args.base, args.tree.resolve())  # mutmut's generator runs in a folder of its own
    progress = Progress(args.progress, {"base": tree.base, "seed": args.seed, "mutants": args.mutants})
    for name, done in progress.done.items():  # judged again: an older version misread exit 2
        progress.done[name] = {**done, "outcome": judge(done)}
    if progress.done:
        progress.save()
        print(f"resuming: {len(progress.done)} mutants done in {args.progress}", flush=True)  # noqa: T201
    record_base(tree)
    suite = selected_tests(tree, impact=False)
    chosen = sample(tree.folder, args.mutants, args.seed)
    if not chosen:
        raise SystemExit(f"no mutant of the services' code found in {tree.folder}")
    for number, mutant in enumerate(chosen, 1):
        if mutant.name in progress:
            continue
        if time.monotonic() > stop_at:
            break
        tree.write(mutant.path, mutant.text)
        try:
            result = study_one(tree, suite)
        finally:
            tree.restore()
        progress.record(mutant.name, result)
        line = f"[{number}/{len(chosen)}] {mutant.name}: {result['outcome']} ({result['seconds']:.0f} s)"
        print(line, flush=True)  # noqa: T201
    _report(progress, len(chosen))


def _report(progress: Progress, wanted: int) -> None:
    results = list(progress.done.values())
    escapes = {name: result for name, result in progress.done.items() if result["outcome"] == ESCAPE}
    killed = sum(1 for result in results if result["outcome"] == KILLED)
    whole = sum(1 for result in results if result["outcome"] == EVERYTHING)
    seconds = sorted(result["seconds"] for result in results if result["outcome"] != EVERYTHING)
    median = seconds[len(seconds) // 2] if seconds else 0.0
    print(  # noqa: T201
        f"\n{len(results)} of {wanted} mutants studied: {whole} select every test (nothing to run: no escape "
        f"possible), {killed} killed by the selection, {len(results) - whole - killed - len(escapes)} "
        f"survive the whole suite; escapes: {len(escapes)} (median {median:.0f} s a mutant that ran)"
    )
    for name, escape in escapes.items():
        print(f"ESCAPE {name}: the rest of the suite's failures {escape['rest_failed']}")  # noqa: T201
    print(f"details: {progress.path}")  # noqa: T201
    if escapes:
        raise SystemExit(1)
    if len(results) < wanted:
        raise SystemExit(3)


if __name__ == "__main__":
    main()

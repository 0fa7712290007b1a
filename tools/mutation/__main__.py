"""Run mutmut over each target module against its own tests; print and check the scores.

    python -m tools.mutation [NAME ...] [--group plugin|services] [--max-children N]

For each target (tools/mutation/targets.py: the services' and the plugin's modules),
or each batch of targets that share their tests, a folder under
.artifacts/mutation/<name>[+<name>...]/ gets the package as src/<package>/, the tests
under tests/, and a pyproject.toml that points mutmut at the module(s); mutmut runs
there (it imports mutants from mutants/src, ahead of the installed package). Each
module's score is killed / (all - judged equivalent).
Each batch's rows are printed as it ends; a batch that mutmut itself fails on is
reported and the others still run. Exits 1 on such a failure, if any module is under
THRESHOLD, or if equivalent.toml lists, for a module that ran, a mutant that was
killed or doesn't exist (the list must stay true).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tools.mutation.score import EquivalentsError, Score, judge, load_equivalents, unknown_modules
from tools.mutation.targets import (
    EQUIVALENT_FILE,
    MUTMUT_TIMEOUT_CONSTANT,
    MUTMUT_TIMEOUT_MULTIPLIER,
    TARGETS,
    THRESHOLD,
    Target,
)

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".artifacts" / "mutation"
SCRATCH = Path("/dev/shm")
# pytest as the repository runs it, minus its stack options: locust's plugin
# would patch the process with gevent, and the stack plugin has nothing to do.
PYTEST_ARGS = ["-p", "no:locust", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"]


def batches(targets: list[Target]) -> list[list[Target]]:
    """Targets that share their root, tests, selection and limit, in one mutmut run each.

    One run mutates them all against the same tests: its baseline (every selected test,
    traced, the costly part for the plugin's 400 unit tests) is paid once, not per module.
    Each module is still scored alone.
    """
    grouped: dict[tuple[object, ...], list[Target]] = {}
    for target in targets:
        grouped.setdefault(target.run_key, []).append(target)
    return list(grouped.values())


def stage(batch: list[Target]) -> Path:
    """The batch's folder: its package, its tests and mutmut's configuration."""
    first = batch[0]
    folder = WORK / "+".join(target.name for target in batch)
    shutil.rmtree(folder, ignore_errors=True)
    package = first.module.split("/")[0]
    shutil.copytree(ROOT / first.root / package, folder / "src" / package)
    selected = []
    for test in first.tests:
        source = ROOT / test
        test_folder = source if source.is_dir() else source.parent
        destination = folder / "tests" / test_folder.relative_to(ROOT)
        if not destination.exists():
            shutil.copytree(test_folder, destination, ignore=shutil.ignore_patterns("__pycache__"))
        for parent in test_folder.parents:
            if parent == ROOT:
                break
            if (parent / "conftest.py").is_file():
                shutil.copy2(parent / "conftest.py", folder / "tests" / parent.relative_to(ROOT))
        selected.append(str(destination.relative_to(folder) / (source.name if source.is_file() else "")))
    config = {
        "source_paths": ["src"],
        "only_mutate": [f"src/{target.module}" for target in batch],
        # Each test's limit: the longest deadline its tests hand the code, plus a margin (targets.py).
        "pytest_add_cli_args": [
            *PYTEST_ARGS,
            f"--timeout={first.per_test_timeout:g}",
            *(["-k", first.select] if first.select else []),
        ],
        "pytest_add_cli_args_test_selection": selected,
        "also_copy": ["tests"],
        "timeout_constant": MUTMUT_TIMEOUT_CONSTANT,
        "timeout_multiplier": MUTMUT_TIMEOUT_MULTIPLIER,
    }
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def run(batch: list[Target], max_children: int, judged: dict[str, str]) -> list[Score]:
    """mutmut over the batch's modules in its folder; one score per module."""
    folder = stage(batch)
    started = time.monotonic()
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if SCRATCH.is_dir():
        # The tests' SQLite files (tmp_path) on tmpfs: each commit's fsync is most of
        # a mutant's time on a disk, and nothing here needs to outlive the run.
        scratch = SCRATCH / f"mutation-{os.getpid()}-{folder.name}"
        scratch.mkdir(exist_ok=True)
        env["TMPDIR"] = str(scratch)
    done = subprocess.run(
        [str(mutmut), "run", "--max-children", str(max_children)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if "TMPDIR" in env and env["TMPDIR"] != os.environ.get("TMPDIR"):
        shutil.rmtree(env["TMPDIR"], ignore_errors=True)
    (folder / "mutmut.log").write_text(done.stdout)
    metas = [folder / "mutants" / "src" / f"{target.module}.meta" for target in batch]
    if done.returncode != 0 or not all(meta.exists() for meta in metas):
        raise BatchFailed(f"mutmut failed in {folder} (exit {done.returncode}):\n{done.stdout[-4000:]}")
    scores = []
    for target, meta in zip(batch, metas, strict=True):
        outcome: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        score = judge(target.name, target.dotted, outcome, judged)
        score.seconds, score.folder = seconds, folder.name
        scores.append(score)
    return scores


class BatchFailed(Exception):
    """mutmut itself failed on a batch: no score for its modules."""


HEADER = f"{'module':<16}{'killed':>8}{'timeout':>8}{'scored':>8}{'equiv.':>8}{'score':>8}{'time':>8}"


def row(score: Score) -> str:
    """One module's line of the table; time is its batch's mutmut run, shared by the modules in it."""
    return (
        f"{score.name:<16}{score.killed:>8}{len(score.timed_out):>8}{score.scored:>8}"
        f"{len(score.equivalent):>8}{score.ratio:>8.1%}{score.seconds:>7.0f}s"
    )


def run_all(
    groups: list[list[Target]], runner: Callable[[list[Target]], list[Score]]
) -> tuple[list[Score], list[str]]:
    """Every batch in turn, each one's rows printed as it ends.

    A batch that mutmut fails on is a problem of the run, not its end: the batches
    after it still run, and the scores before it are already on the screen.
    """
    print(HEADER, flush=True)
    scores: list[Score] = []
    failures: list[str] = []
    for batch in groups:
        try:
            done = runner(batch)
        except BatchFailed as failure:
            print(f"{'+'.join(target.name for target in batch):<16}  mutmut failed: no score", flush=True)
            failures.append(str(failure))
            continue
        for score in done:
            print(row(score), flush=True)
        scores += done
    return scores, failures


def report(scores: list[Score]) -> list[str]:
    """Print every survivor; return what fails the run."""
    problems = []
    for score in scores:
        for name in score.survivors:
            print(f"survived: {name}   (mutmut show {name}, in .artifacts/mutation/{score.folder})")
        for name, code in score.other.items():
            print(f"not killed ({code}): {name}")
        for name in score.timed_out:
            print(f"killed by mutmut's timeout backstop, not by a test: {name}")
        problems += [f"{EQUIVALENT_FILE.name}: {entry}" for entry in score.stale]
        if score.ratio < THRESHOLD:
            problems.append(f"{score.name}: {score.ratio:.1%}, under the {THRESHOLD:.0%} threshold")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="targets to run (default: all of the group)")
    parser.add_argument("--group", choices=("plugin", "services"), help="only the plugin's or the services'")
    # Two at most: the machines this runs on are shared.
    parser.add_argument("--max-children", type=int, default=2)
    args = parser.parse_args()
    unknown = set(args.names) - {target.name for target in TARGETS}
    if unknown:
        raise SystemExit(f"no such target: {', '.join(sorted(unknown))}")
    chosen = [
        target
        for target in TARGETS
        if (not args.names or target.name in args.names) and args.group in (None, target.group)
    ]
    try:
        judged = load_equivalents(EQUIVALENT_FILE)
    except EquivalentsError as error:
        raise SystemExit(str(error)) from error
    orphans = unknown_modules(judged, {target.dotted for target in TARGETS})
    if orphans:
        raise SystemExit(f"{EQUIVALENT_FILE.name} lists mutants of no target's module: {', '.join(orphans)}")
    scores, failures = run_all(batches(chosen), lambda batch: run(batch, args.max_children, judged))
    problems = failures + report(scores)
    if problems:
        raise SystemExit("mutation run failed:\n  " + "\n  ".join(problems))
    print(f"every module at or above {THRESHOLD:.0%}; every listed equivalent survived")


if __name__ == "__main__":
    main()

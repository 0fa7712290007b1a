"""Run mutmut over each target module against its own tests; print and check the scores.

    python -m tests.mutation [NAME ...] [--max-children N]

For each target (tests/mutation/targets.py) a folder under .artifacts/mutation/<name>/
gets the target's package as src/<package>/, its tests under tests/, and a
pyproject.toml that points mutmut at the one module; mutmut runs there (it imports
mutants from mutants/src, ahead of the editable install). Each module's score is
killed / (all - judged equivalent); timeouts count as killed. Exits 1 if any module is
under THRESHOLD, naming the survivors not listed in equivalent.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.targets import EQUIVALENT_FILE, TARGETS, THRESHOLD, Target

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".artifacts" / "mutation"
SCRATCH = Path("/dev/shm")
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code, 3.8.1).
KILLED = {1, 3, 36, -24, 24, 152, 255, 37}
SURVIVED = {0}
# pytest as the repository runs it, minus its stack options: locust's plugin
# would patch the process with gevent, and the stack plugin has nothing to do.
PYTEST_ARGS = ["-p", "no:locust", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"]


@dataclass(frozen=True)
class Score:
    """One module's outcome."""

    name: str
    killed: int
    survivors: list[str]
    equivalent: list[str]
    other: dict[str, int]
    seconds: float

    @property
    def scored(self) -> int:
        return self.killed + len(self.survivors) + sum(self.other.values())

    @property
    def ratio(self) -> float:
        return self.killed / self.scored if self.scored else 1.0


def equivalent_mutants() -> dict[str, str]:
    """Mutant name -> why it is equivalent, from equivalent.txt."""
    judged = {}
    for line in EQUIVALENT_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.strip().partition(" ")
            judged[name] = reason.strip()
    return judged


def stage(target: Target) -> Path:
    """The target's folder: its package, its tests and mutmut's configuration."""
    folder = WORK / target.name
    shutil.rmtree(folder, ignore_errors=True)
    package = target.module.split("/")[0]
    shutil.copytree(ROOT / target.root / package, folder / "src" / package)
    selected = []
    for test in target.tests:
        source = ROOT / test
        test_folder = source if source.is_dir() else source.parent
        destination = folder / "tests" / test_folder.relative_to(ROOT)
        if not destination.exists():
            shutil.copytree(test_folder, destination, ignore=shutil.ignore_patterns("__pycache__"))
        selected.append(str(destination.relative_to(folder) / (source.name if source.is_file() else "")))
    config = {
        "source_paths": ["src"],
        "only_mutate": [f"src/{target.module}"],
        "pytest_add_cli_args": PYTEST_ARGS + (["-k", target.select] if target.select else []),
        "pytest_add_cli_args_test_selection": selected,
        "also_copy": ["tests"],
    }
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def run(target: Target, max_children: int, judged: dict[str, str]) -> Score:
    folder = stage(target)
    started = time.monotonic()
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if SCRATCH.is_dir():
        # The tests' SQLite files (tmp_path) on tmpfs: each commit's fsync is most of
        # a mutant's time on a disk, and nothing here needs to outlive the run.
        scratch = SCRATCH / f"mutation-{os.getpid()}-{target.name}"
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
    meta = folder / "mutants" / "src" / f"{target.module}.meta"
    if done.returncode != 0 or not meta.exists():
        raise SystemExit(f"mutmut failed for {target.name} (exit {done.returncode}):\n{done.stdout[-4000:]}")
    outcome: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    killed, survivors, equivalent, other = 0, [], [], {}
    for name, code in sorted(outcome.items()):
        if code in KILLED:
            killed += 1
        elif name in judged:
            equivalent.append(name)
        elif code in SURVIVED:
            survivors.append(name)
        else:
            other[name] = -1 if code is None else code
    return Score(target.name, killed, survivors, equivalent, other, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    chosen = [target for target in TARGETS if not args.names or target.name in args.names]
    unknown = set(args.names) - {target.name for target in TARGETS}
    if unknown:
        raise SystemExit(f"no such target: {', '.join(sorted(unknown))}")
    judged = equivalent_mutants()
    scores = [run(target, args.max_children, judged) for target in chosen]
    print(f"\n{'module':<14}{'killed':>8}{'scored':>8}{'equiv.':>8}{'score':>8}{'time':>8}")  # noqa: T201
    for score in scores:
        print(  # noqa: T201
            f"{score.name:<14}{score.killed:>8}{score.scored:>8}{len(score.equivalent):>8}"
            f"{score.ratio:>8.1%}{score.seconds:>7.0f}s"
        )
    failing = [score for score in scores if score.ratio < THRESHOLD]
    for score in scores:
        for name in score.survivors:
            print(f"survived: {name}   (mutmut show {name}, in .artifacts/mutation/{score.name})")  # noqa: T201
        for name, code in score.other.items():
            print(f"not killed ({code}): {name}")  # noqa: T201
    if failing:
        names = ", ".join(f"{score.name} {score.ratio:.1%}" for score in failing)
        raise SystemExit(f"under the {THRESHOLD:.0%} threshold: {names}")
    print(f"every module at or above {THRESHOLD:.0%}")  # noqa: T201


if __name__ == "__main__":
    main()

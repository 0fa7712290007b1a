"""Mutation score per module of the plugin's safety-critical code, from mutmut's results.

`python tests/mutation/score.py` (in pytest-microstack/, after `mutmut run`;
`nox -s mutation_plugin` runs both). For each module named in pyproject's
[tool.mutmut] only_mutate, it reads mutmut's per-file results
(mutants/<path>.meta), counts killed mutants (a timeout counts as killed, as
mutmut's own score does) against all mutants less the ones judged equivalent in
equivalent.toml, prints one line per module and every survivor, and exits 1
when a module is under THRESHOLD, or when equivalent.toml names a mutant that
is no longer there or no longer survives (the list must stay true).
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

THRESHOLD = 90.0  # percent of non-equivalent mutants killed, per module
HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parents[1]
KILLED = {"killed", "timeout"}


@dataclass
class ModuleScore:
    path: str
    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return self.killed + len(self.survivors)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def status_of(exit_code: int | None) -> str:
    """mutmut's own reading of a mutant's exit code (killed, survived, no tests, timeout...)."""
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[exit_code])


def modules(pyproject: Path) -> list[str]:
    return list(tomllib.loads(pyproject.read_text())["tool"]["mutmut"]["only_mutate"])


def equivalents(listing: Path) -> dict[str, str]:
    """Mutant name -> why it can't be told apart from the original."""
    data = tomllib.loads(listing.read_text()) if listing.is_file() else {}
    return {str(entry["mutant"]): str(entry["why"]) for entry in data.get("equivalent", [])}


def score(root: Path, paths: list[str], judged: dict[str, str]) -> tuple[list[ModuleScore], list[str]]:
    """Scores per module, and problems with the equivalents list."""
    scores, seen = [], set()
    for path in paths:
        meta = root / "mutants" / f"{path}.meta"
        result = ModuleScore(path)
        if not meta.is_file():
            scores.append(result)
            result.survivors.append("(no results: run `mutmut run` first)")
            continue
        for mutant, exit_code in sorted(json.loads(meta.read_text())["exit_code_by_key"].items()):
            status = status_of(exit_code)
            if status in KILLED:
                result.killed += 1
                if mutant in judged:
                    seen.add(mutant)
                    result.survivors.append(f"{mutant} (listed as equivalent but killed: remove it)")
            elif mutant in judged:
                seen.add(mutant)
                result.equivalent.append(mutant)
            else:
                result.survivors.append(f"{mutant} ({status})")
        scores.append(result)
    stale = [f"{mutant}: listed as equivalent, but no such mutant" for mutant in sorted(set(judged) - seen)]
    return scores, stale


def main() -> int:
    scores, stale = score(PLUGIN, modules(PLUGIN / "pyproject.toml"), equivalents(HERE / "equivalent.toml"))
    failed = bool(stale)
    for result in scores:
        ok = result.percent >= THRESHOLD and not any("listed as equivalent" in s for s in result.survivors)
        failed |= not ok
        sys.stdout.write(
            f"{'ok  ' if ok else 'FAIL'} {result.path}: {result.killed}/{result.counted} killed "
            f"({result.percent:.1f} %), {len(result.equivalent)} equivalent\n"
        )
        for survivor in result.survivors:
            sys.stdout.write(f"       survived: {survivor}\n")
    for problem in stale:
        sys.stdout.write(f"FAIL {problem}\n")
    sys.stdout.write(f"threshold: {THRESHOLD:.0f} % killed per module, equivalents excluded\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Judge one module's mutmut results against the equivalents list: the score, and stale entries.

Pure functions of mutmut's per-mutant exit codes (mutants/<module>.meta), so the
verdict rules are unit-tested without running mutmut (tests/tools/test_mutation_score.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code, 3.8.1). A test
# that fails, pytest-timeout's limit included, is exit 1: killed. The timeout codes
# are mutmut's own backstop (see targets.py): counted as killed, as mutmut does,
# and shown apart so a run that reached it says so.
KILLED = {1, 3, 37}
MUTMUT_TIMEOUT = {36, -24, 24, 152, 255}
SURVIVED = 0


class EquivalentsError(ValueError):
    """The equivalents file can't be read: it names where and what."""


@dataclass
class Score:
    """One module's outcome."""

    name: str
    killed: int = 0
    timed_out: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    #: Mutants neither killed nor survived (no tests reached them, segfault, not run), by exit code.
    other: dict[str, int] = field(default_factory=dict)
    #: Entries of the equivalents list for this module that are no longer true.
    stale: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The work folder under .artifacts/mutation/ (shared by a batch's modules).
    folder: str = ""

    @property
    def scored(self) -> int:
        return self.killed + len(self.timed_out) + len(self.survivors) + len(self.other)

    @property
    def ratio(self) -> float:
        return (self.killed + len(self.timed_out)) / self.scored if self.scored else 1.0


def load_equivalents(path: Path) -> dict[str, str]:
    """Mutant name -> why no test can tell it from the original."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise EquivalentsError(f"{path}: {error}") from error
    judged: dict[str, str] = {}
    for index, entry in enumerate(data.get("equivalent", []), start=1):
        mutant, why = entry.get("mutant"), entry.get("why")
        if not isinstance(mutant, str) or not isinstance(why, str) or not why.strip():
            raise EquivalentsError(f"{path}: entry {index} needs a `mutant` and a non-empty `why`")
        if mutant in judged:
            raise EquivalentsError(f"{path}: {mutant} is listed twice")
        judged[mutant] = why
    return judged


def module_of(mutant: str) -> str:
    """user_service.db.x_init_app__mutmut_9 -> user_service.db (class methods use ǁ, not dots)."""
    return mutant.rsplit(".", 1)[0]


def judge(name: str, module: str, outcome: dict[str, int | None], judged: dict[str, str]) -> Score:
    """Score `module`'s mutants; the equivalents listed for it that were killed or don't exist are stale."""
    score = Score(name)
    for mutant, code in sorted(outcome.items()):
        listed = mutant in judged
        if code in KILLED or code in MUTMUT_TIMEOUT:
            if code in KILLED:
                score.killed += 1
            else:
                score.timed_out.append(mutant)
            if listed:
                score.stale.append(f"{mutant}: listed as equivalent, but killed (exit {code}): remove it")
        elif listed and code == SURVIVED:
            score.equivalent.append(mutant)
        elif code == SURVIVED:
            score.survivors.append(mutant)
        else:
            score.other[mutant] = -1 if code is None else code
    for mutant in sorted(judged):
        if module_of(mutant) == module and mutant not in outcome:
            score.stale.append(f"{mutant}: listed as equivalent, but there is no such mutant: remove it")
    return score


def unknown_modules(judged: dict[str, str], modules: set[str]) -> list[str]:
    """Listed equivalents whose module is no target's: a moved module's entries, or a typo."""
    return sorted(mutant for mutant in judged if module_of(mutant) not in modules)

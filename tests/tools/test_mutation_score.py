"""tools.mutation: how a module's mutants are judged, the equivalents list read and kept true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.mutation.score import EquivalentsError, judge, load_equivalents, module_of, unknown_modules
from tools.mutation.targets import EQUIVALENT_FILE, TARGETS, THRESHOLD, Target

MODULE = "user_service.db"
ROOT = Path(__file__).resolve().parents[2]


def name(index: int, module: str = MODULE) -> str:
    return f"{module}.x_init_app__mutmut_{index}"


def test_killed_survived_and_equivalent_are_counted_apart() -> None:
    outcome: dict[str, int | None] = {name(1): 1, name(2): 0, name(3): 0, name(4): 33}
    score = judge("users-db", MODULE, outcome, {name(3): "why"})

    assert (score.killed, score.survivors, score.equivalent) == (1, [name(2)], [name(3)])
    assert score.other == {name(4): 33}
    assert score.scored == 3, "the equivalent is left out"
    assert score.ratio == pytest.approx(1 / 3)
    assert score.stale == []


def test_a_timeout_of_mutmuts_backstop_counts_as_killed_but_is_named() -> None:
    score = judge("users-db", MODULE, {name(1): 36, name(2): -24}, {})

    assert (score.killed, score.timed_out, score.ratio) == (0, [name(1), name(2)], 1.0)


def test_a_listed_equivalent_that_was_killed_is_stale() -> None:
    score = judge("users-db", MODULE, {name(1): 1}, {name(1): "why"})

    assert score.killed == 1
    assert score.stale == [f"{name(1)}: listed as equivalent, but killed (exit 1): remove it"]


def test_a_listed_equivalent_that_does_not_exist_is_stale_for_its_own_module_only() -> None:
    judged = {name(9): "why", name(9, "user_service.auth"): "why"}
    score = judge("users-db", MODULE, {name(1): 1}, judged)

    assert score.stale == [f"{name(9)}: listed as equivalent, but there is no such mutant: remove it"]


def test_ninety_percent_is_the_bar_and_exactly_it_passes() -> None:
    outcome: dict[str, int | None] = {name(index): 1 for index in range(9)}
    outcome[name(9)] = 0
    assert judge("users-db", MODULE, outcome, {}).ratio == THRESHOLD


def test_a_module_with_no_mutant_scores_full() -> None:
    assert judge("users-db", MODULE, {}, {}).ratio == 1.0


def test_module_of_a_method_mutant_keeps_the_class_marker_out() -> None:
    mutant = "servicekit.gunicorn_worker.xǁBufferingThreadWorkerǁ_pull__mutmut_9"
    assert module_of(mutant) == "servicekit.gunicorn_worker"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[[equivalent]]\nmutant = 'a.x_f__mutmut_1'\n", "needs a `mutant`", id="no-why"),
        pytest.param("[[equivalent]]\nmutant = 'a.x_f__mutmut_1'\nwhy = ' '\n", "non-empty", id="empty-why"),
        pytest.param(
            "[[equivalent]]\nmutant = 'a.x'\nwhy = 'w'\n[[equivalent]]\nmutant = 'a.x'\nwhy = 'w'\n",
            "listed twice",
            id="twice",
        ),
        pytest.param("[[equivalent]\n", "line 1", id="not-toml"),
    ],
)
def test_a_bad_equivalents_file_is_refused_with_its_path(tmp_path: Path, text: str, message: str) -> None:
    listing = tmp_path / "equivalent.toml"
    listing.write_text(text)

    with pytest.raises(EquivalentsError, match=message) as raised:
        load_equivalents(listing)
    assert str(listing) in str(raised.value)


def test_the_repositorys_list_names_only_modules_of_the_targets_table() -> None:
    judged = load_equivalents(EQUIVALENT_FILE)

    assert judged, "the list is read"
    assert unknown_modules(judged, {target.dotted for target in TARGETS}) == []


def test_the_targets_table_names_existing_modules_and_tests_once_each() -> None:
    root = ROOT
    names = [target.name for target in TARGETS]
    assert len(names) == len(set(names))
    for target in TARGETS:
        assert (root / target.root / target.module).is_file(), target
        assert all((root / test).exists() for test in target.tests), target
    assert {target.group for target in TARGETS} == {"plugin", "services"}


# A deadline or timeout handed to the code or waited for, as the tests write them.
DEADLINE_ARGUMENT = re.compile(r"\b(?:timeout|deadline)\s*=\s*(\d+(?:\.\d+)?)\b")


def deadlines_in(target: Target) -> list[float]:
    files = [
        path for test in target.tests for path in sorted(Path(ROOT / test).glob("**/*.py")) or [ROOT / test]
    ]
    return [float(found) for path in files for found in DEADLINE_ARGUMENT.findall(path.read_text())]


@pytest.mark.parametrize("target", TARGETS, ids=lambda target: target.name)
def test_each_tests_limit_is_past_every_deadline_its_tests_hand_the_code(target: Target) -> None:
    """The limit stops a looping mutant; it must never stop a test that waits out a deadline."""
    found = deadlines_in(target)
    assert max(found, default=0) <= target.longest_deadline < target.per_test_timeout


def test_modules_sharing_their_tests_are_mutated_in_one_run_and_the_others_alone() -> None:
    from tools.mutation.__main__ import batches

    runs = batches(TARGETS)

    plugin = [batch for batch in runs if batch[0].group == "plugin"]
    assert len(plugin) == 1, "the plugin's modules share one baseline"
    assert [target.name for target in plugin[0]] == [t.name for t in TARGETS if t.group == "plugin"]
    assert sorted(target.name for batch in runs for target in batch) == sorted(t.name for t in TARGETS)
    assert all(len({target.run_key for target in batch}) == 1 for batch in runs)

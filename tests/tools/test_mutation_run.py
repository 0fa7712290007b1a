"""tools.mutation's run loop: each batch's rows as it ends, and a failed batch stops nothing."""

from __future__ import annotations

import pytest

from tools.mutation.__main__ import HEADER, BatchFailed, report, row, run_all
from tools.mutation.score import Score
from tools.mutation.targets import TARGETS, THRESHOLD, Target

FIRST, SECOND, THIRD = ([target] for target in TARGETS[:3])


def scored(batch: list[Target]) -> list[Score]:
    return [Score(target.name, killed=9, survivors=["x"], seconds=12.0) for target in batch]


def test_each_batch_is_printed_when_it_ends_and_a_failed_one_lets_the_others_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran: list[str] = []

    def runner(batch: list[Target]) -> list[Score]:
        ran.append(batch[0].name)
        if batch is SECOND:
            out = capsys.readouterr().out
            assert row(scored(FIRST)[0]) in out, "the first batch's row is out before the second starts"
            raise BatchFailed("mutmut failed in here (exit 2)")
        return scored(batch)

    scores, failures = run_all([FIRST, SECOND, THIRD], runner)

    assert ran == [FIRST[0].name, SECOND[0].name, THIRD[0].name]
    assert [score.name for score in scores] == [FIRST[0].name, THIRD[0].name]
    assert failures == ["mutmut failed in here (exit 2)"]
    out = capsys.readouterr().out
    assert f"{SECOND[0].name:<16}  mutmut failed: no score" in out
    assert row(scored(THIRD)[0]) in out


def test_a_row_names_the_module_its_counts_score_and_time() -> None:
    score = Score("throttle", killed=9, timed_out=["t"], survivors=["s"], equivalent=["e"], seconds=61.6)

    assert row(score).split() == ["throttle", "9", "1", "11", "1", "90.9%", "62s"]
    assert len(row(score)) == len(HEADER)


@pytest.mark.parametrize(("killed", "fails"), [(9, False), (8, True)])
def test_the_report_fails_a_module_under_the_bar_only(killed: int, fails: bool) -> None:
    score = Score("throttle", killed=killed, survivors=["s"] * (10 - killed))
    assert (score.ratio < THRESHOLD) is fails, "9 of 10 is exactly the bar"

    problems = report([score])

    assert bool(problems) is fails

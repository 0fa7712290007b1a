"""pytest-split's shards partition the real integration suite: each test in exactly one shard.

Each collection is a `pytest --collect-only` subprocess, exactly as a CI shard
selects its tests (same ini, same .test_durations, same pytest-split); nothing
runs, so no stack starts.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.collect import INTEGRATION_SELECTION, ROOT
from tools.collect import collect as collect_tests


def collect(*args: str) -> list[str]:
    """The node ids an integration run with these arguments would execute, in order."""
    return collect_tests(*INTEGRATION_SELECTION, *args)


SPLITS = (2, 3)
Shard = tuple[int, int]  # (splits, group); (0, 0) is the unsharded run


@pytest.fixture(scope="module")
def collections() -> dict[tuple[Shard, int], list[str]]:
    """Every collection the tests compare, run side by side: the unsharded one, each shard,
    and the first shard of two a second time (to compare with the first)."""
    wanted: list[tuple[Shard, int]] = [((0, 0), 0), ((2, 1), 1)]
    wanted += [((splits, group), 0) for splits in SPLITS for group in range(1, splits + 1)]

    def run(key: tuple[Shard, int]) -> list[str]:
        (splits, group), _ = key
        return collect("--splits", str(splits), "--group", str(group)) if splits else collect()

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(wanted, pool.map(run, wanted), strict=True))


@pytest.mark.parametrize("splits", SPLITS)
def test_every_integration_test_lands_in_exactly_one_shard(
    collections: dict[tuple[Shard, int], list[str]], splits: int
) -> None:
    unsharded = collections[((0, 0), 0)]
    shards = [collections[((splits, group), 0)] for group in range(1, splits + 1)]

    assert len(unsharded) > 10, "the integration suite was not collected"
    counts = Counter(test for shard in shards for test in shard)
    assert [test for test, count in counts.items() if count > 1] == []
    assert sorted(counts) == sorted(unsharded)
    assert all(shards), f"an empty shard: {[len(shard) for shard in shards]}"


def test_the_split_is_the_same_every_time(collections: dict[tuple[Shard, int], list[str]]) -> None:
    assert collections[((2, 1), 1)] == collections[((2, 1), 0)]


# The share of the suite .test_durations may miss: tests added since it was last
# regenerated (`nox -s durations`). pytest-split gives each the average duration,
# so a few unbalance nothing; 20 of 368 made one shard take most of the run.
DURATIONS_TOLERANCE = 0.05


def test_test_durations_covers_the_suite(collections: dict[tuple[Shard, int], list[str]]) -> None:
    """Issue 24 §12: .test_durations listed 20 of 368 tests, so CI's shards were unbalanced."""
    import json

    suite = set(collections[((0, 0), 0)])
    recorded = set(json.loads((ROOT / ".test_durations").read_text()))
    missing = sorted(suite - recorded)

    assert len(missing) <= DURATIONS_TOLERANCE * len(suite), (
        f"{len(missing)} of {len(suite)} tests have no duration in .test_durations "
        f"(tolerance {DURATIONS_TOLERANCE:.0%}): run `nox -s durations`. First missing: {missing[:10]}"
    )

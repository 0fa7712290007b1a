"""Merge the JUnit files of a sharded run and check that every test ran exactly once.

`python -m tools.junit_report [--expect FULL.xml | --expect-nodeids FILE]
[--output MERGED.xml] [--summary SUMMARY.md] SHARD.xml...` (what `nox -s
junit_report` runs). Exits 1 when a test appears in two shards, or when the
shards together ran another set of tests than expected: an unsharded run's JUnit
file (`--expect`), or the output of `pytest --collect-only -q` (`--expect-nodeids`).
Failed tests are listed but are the shards' own failures: they don't fail the report.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from junitparser import JUnitXml, TestCase

from tools.collect import node_ids


@dataclass
class Shard:
    """One JUnit file: its test ids, outcome counts and time."""

    path: Path
    xml: JUnitXml
    ids: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0


def shard_name(shard: Shard) -> str:
    """The folder the shard's JUnit file is in (each shard's run has its own), else the file's name."""
    return shard.path.parent.name or shard.path.name


def junit_id(case: TestCase) -> str:
    """pytest's JUnit identity of a test: `classname::name` (module path dotted, class, test[params])."""
    return f"{case.classname}::{case.name}"


def _cases(xml: JUnitXml) -> Iterator[TestCase]:
    for suite in xml:
        yield from suite


def junit_id_of_nodeid(nodeid: str) -> str:
    """The JUnit id pytest writes for a node id (as its junitxml plugin mangles it).

    `tests/a/test_b.py::TestC::test_d[x::y]` -> `tests.a.test_b.TestC::test_d[x::y]`
    """
    address, bracket, params = nodeid.partition("[")
    parts = address.split("::")
    parts[0] = parts[0].replace("/", ".").removesuffix(".py")
    return f"{'.'.join(parts[:-1])}::{parts[-1]}{bracket}{params}"


def read_nodeids(path: Path) -> list[str]:
    """JUnit ids of the node ids in `pytest --collect-only -q` output (other lines ignored)."""
    return [junit_id_of_nodeid(nodeid.strip()) for nodeid in node_ids(path.read_text())]


def read_shard(path: Path) -> Shard:
    xml = JUnitXml.fromfile(str(path))
    shard = Shard(path, xml)
    for case in _cases(xml):
        shard.ids.append(junit_id(case))
        shard.seconds += case.time or 0.0
        if case.is_failure or case.is_error:
            shard.failed.append(junit_id(case))
        elif case.is_skipped:
            shard.skipped += 1
    return shard


def duplicates(shards: Sequence[Shard]) -> list[str]:
    """Test ids that appear more than once across (or within) the shards."""
    counts = Counter(test_id for shard in shards for test_id in shard.ids)
    return sorted(test_id for test_id, count in counts.items() if count > 1)


def merged(shards: Sequence[Shard]) -> JUnitXml:
    """One file with a test suite per shard, named after the shard's folder."""
    result = JUnitXml()
    for shard in shards:
        for suite in shard.xml:
            suite.name = shard_name(shard)  # distinct names: junitparser would fold equal ones together
            result.add_testsuite(suite)
    result.update_statistics()  # type: ignore[no-untyped-call]
    return result


def summary(shards: Sequence[Shard], problems: Sequence[str]) -> str:
    """A Markdown table of the shards, then failed tests and partition problems."""
    lines = ["| shard | tests | failed | skipped | time (s) |", "|---|---:|---:|---:|---:|"]
    for shard in shards:
        lines.append(
            f"| {shard_name(shard)} | {len(shard.ids)} | {len(shard.failed)} "
            f"| {shard.skipped} | {shard.seconds:.1f} |"
        )
    total = sum(len(s.ids) for s in shards)
    failed = [(s, test_id) for s in shards for test_id in s.failed]
    skipped = sum(s.skipped for s in shards)
    lines.append(f"| **all** | {total} | {len(failed)} | {skipped} | {sum(s.seconds for s in shards):.1f} |")
    if failed:
        lines += [
            "",
            "Failed:",
            *(f"- `{test_id}` ({shard_name(s)})" for s, test_id in failed),
        ]
    if problems:
        lines += ["", "Partition problems:", *(f"- {problem}" for problem in problems)]
    return "\n".join(lines) + "\n"


def check(shards: Sequence[Shard], expected: Sequence[str] | None) -> list[str]:
    """Every test in exactly one shard, and (when known) the shards together ran the expected tests."""
    problems = [f"in more than one shard: `{test_id}`" for test_id in duplicates(shards)]
    if expected is not None:
        ran = {test_id for shard in shards for test_id in shard.ids}
        wanted = set(expected)
        problems += [f"not run by any shard: `{test_id}`" for test_id in sorted(wanted - ran)]
        problems += [f"not expected: `{test_id}`" for test_id in sorted(ran - wanted)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", nargs="+", type=Path, help="the shards' JUnit files")
    expect = parser.add_mutually_exclusive_group()
    expect.add_argument("--expect", type=Path, help="an unsharded run's JUnit file to compare with")
    expect.add_argument(
        "--expect-nodeids", type=Path, help="`pytest --collect-only -q` output to compare with"
    )
    parser.add_argument("--output", type=Path, help="write the merged JUnit file here")
    parser.add_argument(
        "--summary", type=Path, help="append the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)"
    )
    args = parser.parse_args(argv)

    shards = [read_shard(path) for path in args.shards]
    expected = None
    if args.expect:
        expected = read_shard(args.expect).ids
    elif args.expect_nodeids:
        expected = read_nodeids(args.expect_nodeids)
    problems = check(shards, expected)
    text = summary(shards, problems)
    sys.stdout.write(text)
    if args.summary:
        with args.summary.open("a") as out:
            out.write("## Integration shards\n\n" + text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        merged(shards).write(str(args.output))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

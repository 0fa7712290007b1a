"""tools.junit_report: the shards' JUnit files merged, and every test found in exactly one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import JUnitXml

from tools.junit_report import junit_id_of_nodeid, main

CASE = '<testcase classname="{classname}" name="{name}" time="{time}">{result}</testcase>'
FAILURE = '<failure message="assert 1 == 2">AssertionError</failure>'


def junit(folder: Path, *cases: tuple[str, str, str]) -> Path:
    """A JUnit file as pytest writes it, in a folder of its own (the shard's artifacts folder)."""
    body = "".join(
        CASE.format(classname=classname, name=name, time="1.5", result=FAILURE if outcome == "failed" else "")
        for classname, name, outcome in cases
    )
    folder.mkdir(parents=True)
    path = folder / "junit.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
        f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{len(cases)}" time="1">'
        f"{body}</testsuite></testsuites>"
    )
    return path


A = ("tests.test_flow", "test_a", "passed")
B = ("tests.scenarios.test_x.TestX", "test_b[param-1]", "passed")
C = ("tests.failures.test_f", "test_c", "passed")


def test_disjoint_shards_equal_to_the_unsharded_run_pass_and_are_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = junit(tmp_path / "shard-1-of-2", A, C)
    two = junit(tmp_path / "shard-2-of-2", B)
    full = junit(tmp_path / "unsharded", A, B, C)
    merged, summary = tmp_path / "merged.xml", tmp_path / "summary.md"

    code = main(
        [str(one), str(two), "--expect", str(full), "--output", str(merged), "--summary", str(summary)]
    )

    assert code == 0
    xml = JUnitXml.fromfile(str(merged))
    assert [suite.name for suite in xml] == ["shard-1-of-2", "shard-2-of-2"]
    assert sorted(case.name for suite in xml for case in suite) == ["test_a", "test_b[param-1]", "test_c"]
    assert "| shard-1-of-2 | 2 | 0 | 0 | 3.0 |" in capsys.readouterr().out
    assert summary.read_text().startswith("## Integration shards")


def test_a_test_in_two_shards_fails_the_report_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = junit(tmp_path / "shard-1-of-2", A, B)
    two = junit(tmp_path / "shard-2-of-2", B, C)

    assert main([str(one), str(two)]) == 1
    assert (
        "in more than one shard: `tests.scenarios.test_x.TestX::test_b[param-1]`" in capsys.readouterr().out
    )


def test_a_test_no_shard_ran_fails_the_report_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = junit(tmp_path / "shard-1-of-2", A)
    two = junit(tmp_path / "shard-2-of-2", B)
    full = junit(tmp_path / "unsharded", A, B, C)

    assert main([str(one), str(two), "--expect", str(full)]) == 1
    assert "not run by any shard: `tests.failures.test_f::test_c`" in capsys.readouterr().out


def test_failed_tests_are_listed_without_failing_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = junit(tmp_path / "shard-1-of-1", A, ("tests.test_flow", "test_broken", "failed"))

    assert main([str(one)]) == 0
    out = capsys.readouterr().out
    assert "| **all** | 2 | 1 | 0 | 3.0 |" in out
    assert "- `tests.test_flow::test_broken` (shard-1-of-1)" in out


@pytest.mark.parametrize(
    ("nodeid", "junit_id"),
    [
        ("tests/test_flow.py::test_a", "tests.test_flow::test_a"),
        (
            "tests/scenarios/test_x.py::TestX::test_b[param-1]",
            "tests.scenarios.test_x.TestX::test_b[param-1]",
        ),
        ("tests/test_p.py::test_c[a/b::c.py]", "tests.test_p::test_c[a/b::c.py]"),
    ],
)
def test_node_ids_map_to_the_ids_pytest_writes_in_junit(nodeid: str, junit_id: str) -> None:
    assert junit_id_of_nodeid(nodeid) == junit_id


def test_shards_are_compared_with_a_collection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = junit(tmp_path / "shard-1-of-2", A)
    two = junit(tmp_path / "shard-2-of-2", B)
    collected = tmp_path / "collected.txt"
    collected.write_text(
        "tests/test_flow.py::test_a\n"
        "tests/scenarios/test_x.py::TestX::test_b[param-1]\n"
        "tests/failures/test_f.py::test_c\n"
        "\n3/10 tests collected (7 deselected) in 0.50s\n"
    )

    assert main([str(one), str(two), "--expect-nodeids", str(collected)]) == 1
    assert "not run by any shard: `tests.failures.test_f::test_c`" in capsys.readouterr().out
    assert (
        main(
            [str(one), str(two), str(junit(tmp_path / "shard-3-of-3", C)), "--expect-nodeids", str(collected)]
        )
        == 0
    )

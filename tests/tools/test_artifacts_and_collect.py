"""tools.artifacts (where a session's reports go) and tools.collect (which tests a run would execute)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.artifacts import option_value, report_args, report_folder
from tools.collect import CollectError, collect, collect_command, node_ids


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--splits", "3"], "3", id="separate"),
        pytest.param(["--splits=3"], "3", id="joined"),
        pytest.param(["-x", "--splits"], None, id="no-value-left"),
        pytest.param(["--splitsy=3"], None, id="another-option"),
        pytest.param([], None, id="absent"),
    ],
)
def test_option_value(args: list[str], expected: str | None) -> None:
    assert option_value(args, "--splits") == expected


def test_a_shard_gets_a_folder_of_its_own(tmp_path: Path) -> None:
    assert report_folder(tmp_path, "integration", ["--splits", "3", "--group", "2"]) == (
        tmp_path / "integration-shard-2-of-3"
    )
    assert report_folder(tmp_path, "integration", ["--splits", "3"]) == tmp_path / "integration"


def test_the_reports_go_to_an_emptied_folder_unless_chosen(tmp_path: Path) -> None:
    leftover = tmp_path / "integration" / "old.txt"
    leftover.parent.mkdir()
    leftover.write_text("from the last run")

    chosen = report_args(tmp_path, "integration", ["-x"])

    assert chosen == [
        "--stack-artifacts",
        str(tmp_path / "integration"),
        f"--junitxml={tmp_path / 'integration' / 'junit.xml'}",
    ]
    assert not leftover.exists()


def test_reports_chosen_in_the_arguments_are_left_alone(tmp_path: Path) -> None:
    kept = tmp_path / "integration" / "kept.txt"
    kept.parent.mkdir()
    kept.write_text("mine")

    assert report_args(tmp_path, "integration", ["--stack-artifacts", "elsewhere", "--junit-xml=j.xml"]) == []
    assert kept.exists()


def test_node_ids_leave_summary_and_warning_lines_out() -> None:
    output = "tests/a.py::test_one\ntests/a.py::test_two[x-1]\n[gw0] note::x\n\n2 tests collected in 0.1s\n"

    assert node_ids(output) == ["tests/a.py::test_one", "tests/a.py::test_two[x-1]"]


def test_the_command_collects_without_running(tmp_path: Path) -> None:
    assert collect_command("-m", "integration")[-6:] == [
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "integration",
    ]


def test_a_project_is_collected_in_order(tmp_path: Path) -> None:
    (tmp_path / "test_b.py").write_text("def test_second():\n    pass\n\ndef test_third():\n    pass\n")
    (tmp_path / "test_a.py").write_text("def test_first():\n    pass\n")

    assert collect("-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path), cwd=tmp_path) == [
        "test_a.py::test_first",
        "test_b.py::test_second",
        "test_b.py::test_third",
    ]


def test_a_collection_error_names_the_command_and_pytests_words(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text("import no_such_module_here\n")

    with pytest.raises(CollectError, match="no_such_module_here") as failed:
        collect("-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path), cwd=tmp_path)
    assert "--collect-only" in str(failed.value)

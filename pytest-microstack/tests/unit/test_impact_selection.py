"""--stack-impact's decision on a real git repository: what each kind of change selects, and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_microstack._errors import ImpactError
from pytest_microstack._impact.recording import Part, Recording
from pytest_microstack._impact.selection import Selection

from unit.impact_repo import assert_selects_everything, commit, decide_at, edit, recorded_repository

SERVICE = """\
LIMIT = 3


def handled(x):
    # why: nothing
    return x + LIMIT


def outage():
    return 503


def started():
    return "up"


def never():
    return None


def seed():
    return "seller"
"""
TESTS = {
    "tests/test_a.py::test_handled": "tests/test_a.py",
    "tests/test_a.py::test_outage": "tests/test_a.py",
    "tests/deep/test_b.py::test_b": "tests/deep/test_b.py",
}
FIXTURES = {"tests/deep/test_b.py::test_b": ("seller", "tmp_path")}  # the tests' fixture closures


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {
        "svc/app.py": SERVICE,
        "svc/helpers.py": "def unmeasured():\n    return 1\n",
        "tests/test_a.py": "def test_handled(): pass\n\n\ndef test_outage(): pass\n",
        "tests/deep/conftest.py": "",
        "tests/deep/test_b.py": "def test_b(): pass\n",
        "compose.yaml": "services: {}\n",
    }
    part = Part(
        {
            "svc/app.py": {
                1: {None},
                4: {None},
                6: {"tests/test_a.py::test_handled", "tests/deep/test_b.py::test_b"},
                10: {"tests/test_a.py::test_outage"},
                14: {None},  # ran at start-up
                22: {"(fixture seller)", "tests/test_a.py::test_outage"},  # a session fixture's setup
            }
        }
    )
    return recorded_repository(tmp_path / "repo", files, part, TESTS)


def _decide(root: Path, base: str = "HEAD") -> Selection:
    return decide_at(root, set(TESTS.values()), base)


def _selected(selection: Selection) -> set[str]:
    return {
        nodeid for nodeid, path in TESTS.items() if selection.selects(nodeid, path, FIXTURES.get(nodeid, ()))
    }


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        pytest.param("svc/app.py", "x + LIMIT", "x - LIMIT", {"::test_handled", "::test_b"}, id="body"),
        pytest.param("svc/app.py", "return 503", "return 502", {"::test_outage"}, id="other-body"),
        pytest.param("svc/app.py", "return None", "return 0", set(), id="body-no-test-ran"),
        pytest.param("svc/app.py", "# why: nothing", "# why: changed", set(), id="comment-only"),
        pytest.param(
            "svc/app.py", "    return 503\n", "    x = 1\n    return 503\n", {"::test_outage"}, id="insert"
        ),
        pytest.param(
            "tests/test_a.py", "pass\n\n\n", "assert 1\n\n\n", {"::test_handled", "::test_outage"}, id="test"
        ),
        pytest.param("tests/deep/conftest.py", "", "X = 1\n", {"::test_b"}, id="conftest"),
        # Import time (test_impact_import_time.py has every rule): the readers of a constant; a def line.
        pytest.param(
            "svc/app.py", "LIMIT = 3", "LIMIT = 4", {"::test_handled", "::test_b"}, id="module-level"
        ),
        pytest.param("svc/app.py", "def outage():", "def outage(y=1):", {"::test_outage"}, id="def-line"),
        # Set up by a session fixture: every test using it, not only the one that set it up first.
        pytest.param("svc/app.py", '"seller"', '"buyer"', {"::test_outage", "::test_b"}, id="fixture"),
    ],
)
def test_a_change_selects_the_tests_that_ran_it(
    repo: Path, path: str, old: str, new: str, expected: set[str]
) -> None:
    edit(repo, path, old, new)
    selection = _decide(repo)
    assert not selection.everything, selection.reasons
    assert {nodeid[nodeid.index("::") :] for nodeid in _selected(selection)} == expected
    assert selection.reasons  # one line a reason


@pytest.mark.parametrize(
    ("path", "old", "new", "why"),
    [
        pytest.param("svc/app.py", '"up"', '"down"', "outside any test", id="ran-outside-tests"),
        pytest.param("svc/app.py", "return 503", "return (", "can't be parsed", id="syntax-error"),
        pytest.param("svc/helpers.py", "1", "2", "outside the measured code", id="unmeasured-python"),
        pytest.param("compose.yaml", "{}", "{x: {}}", "not Python", id="compose"),
    ],
)
def test_an_unattributable_change_selects_everything(
    repo: Path, path: str, old: str, new: str, why: str
) -> None:
    edit(repo, path, old, new)
    selection = _decide(repo)
    assert_selects_everything(selection, why)
    assert _selected(selection) == set(TESTS)


def test_a_new_file_selects_everything(repo: Path) -> None:
    (repo / "svc" / "data.json").write_text("{}")
    assert _decide(repo).everything


def test_no_change_selects_nothing_and_the_recording_itself_is_no_change(repo: Path) -> None:
    selection = _decide(repo)
    assert _selected(selection) == set()
    assert selection.reasons == []  # a fixture's context is not a test that failed


def test_a_fixtures_lines_name_the_fixture_in_the_reason(repo: Path) -> None:
    edit(repo, "svc/app.py", '"seller"', '"buyer"')
    assert _decide(repo).reasons == ["svc/app.py: seed changed: 1 test(s) and every test using seller ran it"]


def test_a_missing_recording_selects_everything(repo: Path) -> None:
    (repo / ".microstack-impact.json").unlink()
    selection = _decide(repo)
    assert selection.everything
    assert "no recording" in selection.reasons[0]


def test_a_recording_of_another_commit_selects_everything(repo: Path) -> None:
    edit(repo, "svc/app.py", "return 503", "return 502")
    commit(repo, "next")
    selection = _decide(repo, "HEAD")
    assert selection.everything
    assert "not of HEAD" in selection.reasons[0]


def test_a_recording_of_other_text_selects_everything(repo: Path) -> None:
    recording = Recording.load(repo / ".microstack-impact.json")
    recording.hashes["svc/app.py"] = "0" * 64
    recording.save(repo / ".microstack-impact.json")
    edit(repo, "svc/app.py", "return 503", "return 502")
    selection = _decide(repo)
    assert selection.everything
    assert "stale" in selection.reasons[-1]


def test_tests_that_did_not_pass_or_are_new_are_selected(repo: Path) -> None:
    recording = Recording.load(repo / ".microstack-impact.json")
    recording.passed.discard("tests/deep/test_b.py::test_b")
    recording.save(repo / ".microstack-impact.json")
    selection = _decide(repo)
    assert _selected(selection) == {"tests/deep/test_b.py::test_b"}
    assert selection.selects("tests/test_new.py::test_new", "tests/test_new.py")


def test_a_base_that_names_no_commit_is_a_clear_error(repo: Path) -> None:
    with pytest.raises(ImpactError, match="no-such-branch: no such commit"):
        _decide(repo, "no-such-branch")


def test_the_recording_round_trips(repo: Path) -> None:
    recording = Recording.load(repo / ".microstack-impact.json")
    assert recording.lines["svc/app.py"][6] == {
        "tests/test_a.py::test_handled",
        "tests/deep/test_b.py::test_b",
    }
    assert recording.lines["svc/app.py"][14] == {None}
    assert recording.passed == set(TESTS)

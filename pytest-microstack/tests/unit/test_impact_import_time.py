"""--stack-impact on lines that run at import: each rule at its exact boundaries, on a real git repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_microstack._impact import import_time
from pytest_microstack._impact.modules import module_name, parse
from pytest_microstack._impact.recording import Part
from pytest_microstack._impact.selection import Selection

from unit.impact_repo import assert_selects_everything, decide_at, edit, recorded_repository

NAMES = '''\
"""Names the app reads."""
EXPORTED = "x"
LIMIT = 3
DOUBLE = LIMIT * 2
UNUSED = 1
AT_IMPORT = 5
assert AT_IMPORT > 0
'''
PACKAGE = "from svc.names import EXPORTED as EXPORTED\n"
APP = """\
from dataclasses import dataclass
from functools import cache

from svc import EXPORTED
from svc.names import DOUBLE, LIMIT, UNUSED


def handled(
    x, step=1
):
    return x + LIMIT


@bp.get("/outage")
def outage():
    return 503


@cache
def settings():
    return {"double": DOUBLE}


def reads_settings():
    return settings()["double"]


def exported():
    return EXPORTED


def reads_helper():
    return helper()


def warm():
    return "warm"


def never():
    return UNUSED


@dataclass
class Point:
    x: int = 0


def origin():
    return Point()


class Box:
    SIZE = 2

    def size(self):
        return self.SIZE


class Handler(Base):
    def handle(self):
        return 1
"""
# Which tests ran which line (by the line's text); every other line ran at start-up.
RAN = {
    "    return x + LIMIT": {"handled"},
    "    return 503": {"outage"},
    '    return {"double": DOUBLE}': {"first"},
    '    return settings()["double"]': {"first", "second"},
    "    return EXPORTED": {"exported"},
    "    return helper()": {"helper"},
    "    return UNUSED": set(),  # no test ran it (not even start-up)
    "    return Point()": {"origin"},
    "        return self.SIZE": {"box"},
    "        return 1": {"handler"},
}
TESTS = {
    f"tests/test_s.py::test_{name}"
    for name in ("box", "exported", "first", "handled", "handler", "helper", "origin", "outage", "second")
}


def _lines(text: str) -> dict[int, set[str | None]]:
    found: dict[int, set[str | None]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        names = RAN.get(line)
        if names is None:
            found[number] = {None}
        elif names:
            found[number] = {f"tests/test_s.py::test_{name}" for name in names}
    return found


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {"svc/names.py": NAMES, "svc/__init__.py": PACKAGE, "svc/app.py": APP, "tests/test_s.py": ""}
    part = Part({path: _lines(text) for path, text in files.items() if path.startswith("svc/")})
    return recorded_repository(tmp_path / "repo", files, part, TESTS)


def _decide(root: Path) -> Selection:
    return decide_at(root, {"tests/test_s.py"})


def _chosen(selection: Selection) -> set[str]:
    """The selected tests' short names; the start-up check (made when no test reads the change) left out."""
    assert not selection.everything, selection.reasons
    checks = [
        reason.split("start-up check: ")[1].split(" ")[0]
        for reason in selection.reasons
        if "start-up check" in reason
    ]
    assert len(checks) == (0 if len(selection.tests) > len(checks) else 1), selection.reasons
    return {test.rsplit("_", 1)[1] for test in selection.tests - set(checks)}


@pytest.mark.parametrize(
    ("path", "old", "new", "expected", "rule"),
    [
        # header: first line (the decorator), the def line, a default, the last line.
        pytest.param(
            "svc/app.py",
            "def handled(\n",
            "def handled(  # x\n",
            {"handled"},
            "header rule",
            id="comment-in-header",
        ),
        pytest.param(
            "svc/app.py",
            "def handled(\n",
            "async def handled(\n",
            {"handled"},
            "header rule",
            id="header-first",
        ),
        pytest.param("svc/app.py", "x, step=1", "x, step=2", {"handled"}, "header rule", id="header-default"),
        pytest.param(
            "svc/app.py",
            "):\n    return x",
            ") -> int:\n    return x",
            {"handled"},
            "header rule",
            id="header-last",
        ),
        pytest.param(
            "svc/app.py",
            "    return x + LIMIT",
            "    return x - LIMIT",
            {"handled"},
            "svc/app.py: handled changed",
            id="first-body-line",
        ),
        pytest.param(
            "svc/app.py",
            "def outage():",
            "def outage(extra=1):",
            {"outage"},
            "header rule",
            id="registered-def-line",
        ),
        pytest.param(
            "svc/app.py", "@cache", "@cache  # why", {"first", "second"}, "header rule", id="cached-decorator"
        ),
        # name: a constant, followed through readers at import, a cached function, a re-export.
        pytest.param(
            "svc/names.py",
            "LIMIT = 3",
            "LIMIT = 4",
            {"handled", "first", "second"},
            "name rule",
            id="constant-transitive",
        ),
        pytest.param(
            "svc/names.py",
            "DOUBLE = LIMIT * 2",
            "DOUBLE = LIMIT * 3",
            {"first", "second"},
            "name rule",
            id="cached-reader",
        ),
        pytest.param(
            "svc/names.py", "UNUSED = 1", "UNUSED = 2", set(), "0 test(s) read it", id="reader-ran-in-no-test"
        ),
        pytest.param(
            "svc/names.py", 'EXPORTED = "x"', 'EXPORTED = "y"', {"exported"}, "name rule", id="re-exported"
        ),
        pytest.param(
            "svc/app.py",
            "from functools import cache",
            "from functools import lru_cache as cache",
            {"first", "second"},
            "name rule",
            id="import-read-by-a-decorator",
        ),
        # class bodies.
        pytest.param("svc/app.py", "SIZE = 2", "SIZE = 3", {"box"}, "name rule", id="class-attribute"),
        pytest.param(
            "svc/app.py",
            "    def size(self):\n",
            "    def size(self, more=0):\n",
            {"box"},
            "header rule",
            id="method-header",
        ),
        pytest.param(
            "svc/app.py",
            "        return self.SIZE\n",
            "        return self.SIZE\n\n    def extra(self):\n        return 0\n",
            set(),
            "header rule",
            id="new-method-no-bases",
        ),
        # added lines: a new unused function, and one that shadows an old one by name.
        pytest.param(
            "svc/app.py",
            "        return 1\n",
            "        return 1\n\n\ndef fresh():\n    return 1\n",
            set(),
            "header rule",
            id="new-function",
        ),
        pytest.param(
            "svc/app.py",
            "        return 1\n",
            "        return 1\n\n\ndef exported():\n    return 2\n",
            {"exported"},
            "header rule",
            id="new-function-shadows",
        ),
        pytest.param(
            "svc/app.py",
            "        return 1\n",
            "        return 1\n\n\ndef helper():\n    return 1\n",
            {"helper"},
            "header rule",
            id="new-function-read-before",
        ),
        pytest.param(
            "svc/names.py",
            '"""Names the app reads."""',
            '"""Names."""',
            set(),
            "docstring rule",
            id="docstring",
        ),
        pytest.param(
            "svc/__init__.py", " as EXPORTED\n", "\n", {"exported"}, "name rule", id="re-export-removed"
        ),
        pytest.param(
            "svc/app.py", "    x: int = 0", "    x: int = 1", {"origin"}, "name rule", id="dataclass-default"
        ),
        pytest.param(
            "svc/names.py", "UNUSED = 1", 'UNUSED = int("2")', set(), "0 test(s)", id="a-plain-value-call"
        ),
    ],
)
def test_an_import_time_change_selects_the_tests_that_read_it(
    repo: Path, path: str, old: str, new: str, expected: set[str], rule: str
) -> None:
    edit(repo, path, old, new)
    selection = _decide(repo)
    assert _chosen(selection) == expected
    assert any(rule in reason for reason in selection.reasons), selection.reasons


@pytest.mark.parametrize(
    ("path", "old", "new", "why"),
    [
        pytest.param(
            "svc/app.py",
            '@bp.get("/outage")',
            '@bp.get("/down")',
            "may register it by name",
            id="route-decorator",
        ),
        pytest.param(
            "svc/app.py",
            "def outage():",
            "def down():",
            "registered by name and its name changed",
            id="route-renamed",
        ),
        pytest.param(
            "svc/app.py", "def warm():", "def warm(x=0):", "outside any test", id="header-at-start-up"
        ),
        pytest.param(
            "svc/app.py",
            "def warm():\n    return",
            "def warm(): return",
            "outside any test",
            id="one-line-def",
        ),
        pytest.param(
            "svc/names.py", "AT_IMPORT = 5", "AT_IMPORT = 6", "binds nothing", id="read-by-a-statement"
        ),
        pytest.param(
            "svc/names.py",
            "assert AT_IMPORT > 0",
            "assert AT_IMPORT > 1",
            "other than a definition",
            id="a-statement",
        ),
        pytest.param(
            "svc/app.py",
            "from functools import cache\n",
            "from functools import cache\nfrom svc.names import *\n",
            "other than a definition",
            id="star-import",
        ),
        pytest.param("svc/names.py", "UNUSED = 1", "UNUSED = make()", "calls make at import", id="a-call"),
        pytest.param(
            "svc/names.py",
            "AT_IMPORT = 5\n",
            "AT_IMPORT = 5\nNOBODY = 1\n",
            "no measured line reads",
            id="unread",
        ),
        pytest.param(
            "svc/app.py",
            "from functools import cache\n",
            "from functools import cache\nimport json\n",
            "imported now",
            id="import-new-module",
        ),
        pytest.param(
            "svc/app.py",
            "from dataclasses import dataclass\n",
            "",
            "imported now",
            id="import-removed-last",
        ),
        pytest.param(
            "svc/app.py",
            "        return 1\n",
            "        return 1\n\n    def extra(self):\n        return 0\n",
            "may override",
            id="new-method-with-bases",
        ),
        pytest.param(
            "svc/app.py",
            "    SIZE = 2\n",
            "    SIZE = 2\n    __eq__ = None\n",
            "called by Python itself",
            id="new-dunder",
        ),
    ],
)
def test_an_import_time_change_it_cant_follow_selects_everything(
    repo: Path, path: str, old: str, new: str, why: str
) -> None:
    edit(repo, path, old, new)
    assert_selects_everything(_decide(repo), why)


def test_a_change_no_test_reads_runs_one_test_as_a_start_up_check(repo: Path) -> None:
    edit(repo, "svc/names.py", "UNUSED = 1", "UNUSED = 2")  # no test ran names.py: the first recorded test
    edit(repo, "svc/app.py", "def never():", "def never(x=1):")  # no test ran it: a test that ran app.py
    selection = _decide(repo)
    assert selection.tests == {"tests/test_s.py::test_box"}
    assert "svc/names.py: start-up check: tests/test_s.py::test_box" in "\n".join(selection.reasons)
    assert "svc/app.py: start-up check: tests/test_s.py::test_box" in "\n".join(selection.reasons)


def test_a_change_some_test_reads_needs_no_start_up_check(repo: Path) -> None:
    edit(repo, "svc/app.py", "SIZE = 2", "SIZE = 3")
    selection = _decide(repo)
    assert selection.tests == {"tests/test_s.py::test_box"}
    assert not any("start-up check" in reason for reason in selection.reasons)


@pytest.mark.parametrize(
    ("reader", "why"),
    [
        ("def look(name):\n    return getattr(names, name)\n", "getattr with a name that isn't a literal"),
        ("def look():\n    return globals()\n", "globals()"),
        ("import svc.names as names\n\n\ndef look():\n    return vars(names)\n", "vars()"),
        ("def look():\n    return vars()\n", "vars()"),
        ("from svc.names import *\n", "import *"),
    ],
)
def test_a_dynamic_read_in_an_importer_means_every_test(reader: str, why: str) -> None:
    names = parse("svc/names.py", "svc.names", NAMES)
    importer = parse("svc/other.py", "svc.other", f"from svc.names import LIMIT\n{reader}")
    modules = {"svc/names.py": names, "svc/other.py": importer}
    with pytest.raises(
        import_time.Everything, match=why.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")
    ):
        import_time.Reader(modules, {}).follow(names, frozenset({"UNUSED"}), attribute=False)


def test_vars_of_an_object_is_no_dynamic_read() -> None:
    module = parse(
        "svc/log.py",
        "svc.log",
        "import logging\nKEYS = set(vars(logging.LogRecord()))\n\n\ndef f(r):\n    return vars(r)\n",
    )
    assert module.dynamic == []


@pytest.mark.parametrize(
    ("path", "packages", "expected"),
    [
        ("svc/app.py", {"svc"}, "svc.app"),
        ("svc/__init__.py", {"svc"}, "svc"),
        ("src/svc/sub/m.py", {"src/svc", "src/svc/sub"}, "svc.sub.m"),
        ("tool.py", set(), "tool"),
    ],
)
def test_module_names_follow_the_packages(path: str, packages: set[str], expected: str) -> None:
    assert module_name(path, packages) == expected


def test_relative_imports_resolve_to_the_module_they_name() -> None:
    module = parse("svc/sub/m.py", "svc.sub.m", "from . import a\nfrom .b import c\nfrom ..d import e\n")
    assert [(source, name) for _, source, name, _ in module.imported] == [
        ("svc.sub", "a"),
        ("svc.sub.b", "c"),
        ("svc.d", "e"),
    ]


@pytest.mark.parametrize(
    ("path", "check"),
    [
        pytest.param("svc/a.py", "tests/t.py::test_z", id="a-test-that-ran-it-not-the-fixture"),
        pytest.param("svc/none.py", "tests/t.py::test_z", id="nothing-ran-it-any-test"),
        pytest.param("svc/b.py", "tests/t.py::test_z", id="only-a-fixture-ran-it-a-test-still"),
    ],
)
def test_the_start_up_check_is_a_test_not_a_fixtures_users(path: str, check: str) -> None:
    lines: import_time.Lines = {
        "svc/a.py": {1: frozenset({"(fixture seller)", "tests/t.py::test_z"}), 2: frozenset({None})},
        "svc/b.py": {1: frozenset({"(fixture only)"})},
    }
    assert import_time.start_up_check(lines, path) == check


def test_with_only_fixtures_recorded_the_start_up_check_is_a_fixture() -> None:
    lines: import_time.Lines = {"svc/b.py": {1: frozenset({"(fixture only)", None})}}
    assert import_time.start_up_check(lines, "svc/b.py") == "(fixture only)"
    assert import_time.start_up_check({}, "svc/b.py") is None

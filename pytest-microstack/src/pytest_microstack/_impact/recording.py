"""What a `--stack-coverage` run leaves for `--stack-impact`: which tests ran each measured line.

A JSON file (`stack_impact_file`, default `.microstack-impact.json` in the rootdir),
written by the run's controller at the end of every `--stack-coverage` run:

- `commit`: git's HEAD when it was recorded, and `dirty`: the paths that differed
  from it then (a selection treats them as changed);
- `tests`: every test that ran, and `passed`: those whose every phase passed;
- `files`: per measured file (relative to the repository), the sha256 of the text
  that was measured and, per line, the tests that ran it, as an index into `sets`
  (a set of test indices; OUTSIDE for work outside any test). A wider fixture's
  setup is there as `(fixture NAME)`, a test id of its own: it stands for every
  test that uses the fixture.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_microstack._boundaries import fixture_of, test_of

VERSION = 1
OUTSIDE = -1  # in a set of test indices: work outside any test (start-up, the end)


def sha256(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def real_tests(ids: Iterable[str]) -> list[str]:
    """The test ids among `ids`, without the fixtures' (which stand for the tests that use them)."""
    return [test for test in ids if fixture_of(test) is None]


def who(ids: Iterable[str]) -> str:
    """`3 test(s)`, and the fixtures whose users count too: for a reason's line."""
    ids = list(ids)
    fixtures = sorted(name for name in map(fixture_of, ids) if name is not None)
    tests = f"{len(ids) - len(fixtures)} test(s)"
    return f"{tests} and every test using {', '.join(fixtures)}" if fixtures else tests


@dataclass
class Part:
    """One process's share: per file, per line, the test ids (None: outside) that ran it."""

    lines: dict[str, dict[int, set[str | None]]] = field(default_factory=dict)

    def add_data_file(self, path: Path, root: Path) -> None:
        """Lines and contexts of one coverage data file; files outside `root` are not diffable: left out."""
        from coverage import CoverageData

        data = CoverageData(basename=str(path))
        try:
            data.read()
            for name in data.measured_files():
                try:
                    relative = Path(name).resolve().relative_to(root).as_posix()
                except ValueError:
                    continue
                per_line = self.lines.setdefault(relative, {})
                for line, contexts in data.contexts_by_lineno(name).items():
                    per_line.setdefault(line, set()).update(test_of(context) for context in contexts)
        finally:
            data.close(force=True)

    def merge(self, other: Part) -> None:
        for name, per_line in other.lines.items():
            mine = self.lines.setdefault(name, {})
            for line, tests in per_line.items():
                mine.setdefault(line, set()).update(tests)

    def to_json(self) -> str:
        return json.dumps(
            {
                name: {str(line): sorted(t or "" for t in tests) for line, tests in lines.items()}
                for name, lines in self.lines.items()
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Part:
        raw = json.loads(text)
        return cls(
            {
                name: {int(line): {t or None for t in tests} for line, tests in lines.items()}
                for name, lines in raw.items()
            }
        )


@dataclass
class Recording:
    """A saved recording, as `--stack-impact` reads it."""

    commit: str
    dirty: list[str]
    tests: list[str]
    passed: set[str]
    hashes: dict[str, str]  # file -> sha256 of the measured text
    lines: dict[str, dict[int, frozenset[str | None]]]  # file -> line -> test ids (None: outside)

    @classmethod
    def build(
        cls,
        part: Part,
        *,
        commit: str,
        dirty: Iterable[str],
        tests: Iterable[str],
        passed: Iterable[str],
        root: Path,
    ) -> Recording:
        hashes = {}
        for name in part.lines:
            source = root / name
            if source.is_file():
                hashes[name] = sha256(source.read_bytes())
        return cls(
            commit=commit,
            dirty=sorted(dirty),
            tests=sorted(set(tests)),
            passed=set(passed),
            hashes=hashes,
            lines={
                name: {line: frozenset(ids) for line, ids in per_line.items()}
                for name, per_line in part.lines.items()
                if name in hashes
            },
        )

    def save(self, path: Path) -> None:
        index = {test: number for number, test in enumerate(self.tests)}
        sets: dict[tuple[int, ...], int] = {}
        files: dict[str, dict[str, object]] = {}
        for name, per_line in sorted(self.lines.items()):
            encoded = {}
            for line, ids in sorted(per_line.items()):
                key = tuple(
                    sorted(OUTSIDE if test is None else index.setdefault(test, len(index)) for test in ids)
                )
                encoded[str(line)] = sets.setdefault(key, len(sets))
            files[name] = {"sha256": self.hashes[name], "lines": encoded}
        tests = sorted(index, key=index.__getitem__)  # tests seen only in contexts are kept too
        document = {
            "version": VERSION,
            "commit": self.commit,
            "dirty": self.dirty,
            "tests": tests,
            "passed": sorted(index[test] for test in self.passed if test in index),
            "sets": [list(key) for key in sorted(sets, key=sets.__getitem__)],
            "files": files,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(path.name + ".tmp")
        staging.write_text(json.dumps(document, separators=(",", ":")))
        staging.replace(path)

    @classmethod
    def load(cls, path: Path) -> Recording:
        """Raises ValueError for a file that isn't a recording of this version."""
        document = json.loads(path.read_text())
        if not isinstance(document, dict) or document.get("version") != VERSION:
            raise ValueError(f"{path} is not a --stack-impact recording of version {VERSION}")
        tests: list[str] = document["tests"]
        sets = [
            frozenset(None if number == OUTSIDE else tests[number] for number in key)
            for key in document["sets"]
        ]
        files: Mapping[str, dict[str, object]] = document["files"]
        return cls(
            commit=document["commit"],
            dirty=list(document["dirty"]),
            tests=tests,
            passed={tests[number] for number in document["passed"]},
            hashes={name: str(entry["sha256"]) for name, entry in files.items()},
            lines={
                name: {int(line): sets[number] for line, number in entry["lines"].items()}  # type: ignore[attr-defined]
                for name, entry in files.items()
            },
        )

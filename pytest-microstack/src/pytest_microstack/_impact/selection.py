"""Which tests a change needs, and why: one reason a line; when unsure, every test.

Everything is selected when anything changed that can't be attributed to tests:
a file that is neither measured code nor a test module nor a conftest.py (the
compose file, Dockerfiles, requirements, configuration, data files the services
read, code outside what was measured), a line of measured code that runs at
import and can't be followed (`import_time` says which), a function that ran
outside any test, a file that doesn't parse, and a recording that is missing,
made on another commit, or made from other text than BASE has. Otherwise:

- the tests that ran (in the recording) any line of a function whose body changed
  (and, for a cached function, the tests that read its name); a line that ran while
  a fixture wider than a function was set up selects every test that uses it;
- for lines that run at import, the tests `import_time`'s rules attribute them to;
- the tests in a changed test module, and those below a changed conftest.py;
- the tests that are not in the recording or did not pass there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pytest_microstack._boundaries import fixture_context
from pytest_microstack._impact import changes as git_changes
from pytest_microstack._impact import import_time, modules
from pytest_microstack._impact.recording import Recording, real_tests, sha256, who
from pytest_microstack._impact.scopes import Scope, code_lines, function_bodies, innermost


@dataclass
class Selection:
    """The decision: every test (`everything`), or `tests` plus those the items add; `reasons` says why."""

    everything: bool = False
    tests: set[str] = field(default_factory=set)
    test_files: set[str] = field(default_factory=set)  # repository paths whose tests all run
    test_folders: set[str] = field(default_factory=set)  # folders of changed conftest.py files
    reasons: list[str] = field(default_factory=list)
    recording: Recording | None = None

    def select_all(self, why: str) -> None:
        self.everything = True
        self.reasons.append(f"every test: {why}")

    def selects(self, nodeid: str, path: str, fixtures: Iterable[str] = ()) -> bool:
        """Whether the test `nodeid`, defined in repository path `path` and using `fixtures`, runs."""
        if self.everything or nodeid in self.tests or path in self.test_files:
            return True
        if any(fixture_context(name) in self.tests for name in fixtures):
            return True  # a selected fixture's setup: every test that uses it
        if any(PurePosixPath(path).is_relative_to(folder) for folder in self.test_folders):
            return True
        recorded = self.recording
        return recorded is None or nodeid not in recorded.passed


def decide(
    root: Path, base: str, recording_path: Path, test_modules: Collection[str], *, ignore: Iterable[str] = ()
) -> Selection:
    """The selection for the change from `base` to the working tree of the repository at `root`.

    `test_modules` are the repository paths of the collected test modules;
    `ignore` are paths (the recording itself) that never count as changes.
    """
    selection = Selection()
    commit = git_changes.resolve(root, base)
    if not recording_path.is_file():
        selection.select_all(f"no recording at {recording_path} (a --stack-coverage run on {base} writes it)")
        return selection
    try:
        recording = Recording.load(recording_path)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        selection.select_all(f"the recording {recording_path} can't be read: {error}")
        return selection
    selection.recording = recording
    if recording.commit != commit:
        selection.select_all(f"the recording is of {recording.commit[:12]}, not of {base} ({commit[:12]})")
        return selection
    changed = git_changes.changes(root, commit)
    for path in recording.dirty:  # recorded from a tree that differed from its commit there
        changed.setdefault(path, git_changes.FileChange(path, "M"))
    for path in ignore:
        changed.pop(path, None)
    failing = sorted(set(real_tests(recording.tests)) - recording.passed)
    if failing:
        selection.reasons.append(f"{len(failing)} test(s) that did not pass in the recording")
    for _, change in sorted(changed.items()):
        _attribute(selection, root, commit, recording, change, set(test_modules))
        if selection.everything:
            return selection
    return selection


def _attribute(
    selection: Selection,
    root: Path,
    commit: str,
    recording: Recording,
    change: git_changes.FileChange,
    test_modules: set[str],
) -> None:
    path = change.path
    name = PurePosixPath(path).name
    if path in recording.hashes:
        _measured(selection, root, commit, recording, change)
    elif path in test_modules:
        selection.test_files.add(path)
        selection.reasons.append(f"{path}: a test module changed: its tests")
    elif name == "conftest.py":
        folder = str(PurePosixPath(path).parent)
        selection.test_folders.add(folder)
        selection.reasons.append(f"{path}: a conftest.py changed: the tests below {folder}/")
    elif path.endswith(".py"):
        selection.select_all(f"{path}: Python outside the measured code and the test modules")
    else:
        selection.select_all(
            f"{path}: not Python: it can't be attributed (compose, Dockerfile, requirements, config, data)"
        )


def _measured(
    selection: Selection, root: Path, commit: str, recording: Recording, change: git_changes.FileChange
) -> None:
    path = change.path
    if change.status not in {"M", "T"}:
        selection.select_all(f"{path}: measured code {'deleted' if change.status == 'D' else 'replaced'}")
        return
    old_text = git_changes.base_text(root, commit, path)
    if sha256(old_text.encode()) != recording.hashes[path]:
        selection.select_all(f"{path}: the recording measured other text than {commit[:12]} has (stale)")
        return
    try:
        new_text = (root / path).read_text()
        old_scopes, new_scopes = function_bodies(old_text), function_bodies(new_text)
        old_code, new_code = code_lines(old_text), code_lines(new_text)
        old_units = modules.parse(path, "", old_text).units
    except (SyntaxError, ValueError, OSError, UnicodeDecodeError) as error:
        selection.select_all(f"{path}: can't be parsed ({error})")
        return
    by_name: dict[str, list[Scope]] = {}
    for body in old_scopes:
        by_name.setdefault(body.name, []).append(body)
    touched: dict[str, list[Scope]] = {}
    at_import: list[tuple[int, bool]] = []  # (line, of the tree's side)
    # Lines of BASE (changed or removed) in BASE's functions; lines of the tree (changed or
    # added) in the tree's functions, looked up by name in BASE's.
    sides = [(line, old_scopes, old_code) for line in sorted(change.old_lines)]
    sides += [(line, new_scopes, new_code) for line in sorted(change.new_lines)]
    for line, scopes, code in sides:
        if line not in code:
            continue  # blank, or a comment alone
        scope = innermost(scopes, line)
        if scope is None:  # (a one-line def's line is in its body: it ran at import, so every test)
            at_import.append((line, scopes is new_scopes))
            continue
        found = by_name.get(scope.name) if scopes is new_scopes else [scope]
        if not found:
            continue  # a new function: its def (a changed line too) says where it runs
        touched.setdefault(scope.name, []).extend(found)
    if not touched and not at_import:
        selection.reasons.append(f"{path}: only comments or blank lines changed: no test")
    reader: import_time.Reader | None = None
    if at_import or any(_cached(old_units, name) for name in touched):
        try:
            reader = _reader(root, commit, recording, path, old_text)
            _at_import(selection, reader, path, old_text, new_text, at_import)
        except import_time.Everything as unsure:
            selection.select_all(str(unsure))
            return
        except SyntaxError as error:
            selection.select_all(f"a measured module can't be parsed ({error})")
            return
    lines = recording.lines.get(path, {})
    for name, scopes in sorted(touched.items()):
        tests: set[str | None] = set()
        for scope in scopes:
            for number in range(scope.first, scope.last + 1):
                tests.update(lines.get(number, ()))
        if None in tests:
            selection.select_all(f"{path}: {name} also ran outside any test (start-up, background work)")
            return
        named = {test for test in tests if test is not None}
        if reader is not None and _cached(old_units, name):
            base = reader.modules[path]
            unit = next(unit for unit in base.units if unit.function == name)
            try:
                named |= reader.readers_of(base, unit.names, unit.attribute)
            except import_time.Everything as unsure:
                selection.select_all(str(unsure))
                return
        selection.tests.update(named)
        ran = f"{who(named)} ran it" if named else "no test ran it"
        selection.reasons.append(f"{path}: {name} changed: {ran}")


def _cached(units: list[modules.Unit], function: str) -> bool:
    """Whether BASE's `function` keeps its result (`@cache`): callers after the first don't run its body."""
    return any(unit.caches and unit.function == function for unit in units)


def _reader(root: Path, commit: str, recording: Recording, path: str, old_text: str) -> import_time.Reader:
    """Every measured module as BASE has it (the tree's text where its hash says it is BASE's)."""
    packages = {str(PurePosixPath(name).parent) for name in recording.hashes if name.endswith("/__init__.py")}
    parsed: dict[str, modules.Module] = {}
    for name, digest in sorted(recording.hashes.items()):
        if name == path:
            text = old_text
        else:
            local = root / name
            raw = local.read_bytes() if local.is_file() else b""
            text = raw.decode() if sha256(raw) == digest else git_changes.base_text(root, commit, name)
        parsed[name] = modules.parse(name, modules.module_name(name, packages), text)
    return import_time.Reader(parsed, recording.lines)


def _at_import(
    selection: Selection,
    reader: import_time.Reader,
    path: str,
    old_text: str,
    new_text: str,
    lines: list[tuple[int, bool]],
) -> None:
    """The import-time lines' tests and reasons, plus one start-up check; raises Everything."""
    if not lines:
        return
    base = reader.modules[path]
    tree = modules.parse(path, base.name, new_text)
    import_time.check_imports(reader, base, tree)
    attribution = import_time.Attribution()
    for line, of_tree in lines:
        side, other = (tree, base) if of_tree else (base, tree)
        import_time.attribute(reader, base, side, other, line, attribution)
    check = import_time.start_up_check(reader.lines, path)
    if check is not None and not attribution.tests:  # a selected test fails too when the stack can't start
        attribution.tests.add(check)
        attribution.reasons.append(
            f"{path}: start-up check: {check} (a module that fails at import stops every test)"
        )
    selection.tests |= attribution.tests
    selection.reasons.extend(dict.fromkeys(attribution.reasons))  # a line changed on both sides: once

"""Changed lines that run at import, attributed to the tests that read what they bind; when unsure, all.

Coverage gives such lines the start-up context, so they name no test. The rules
(each names itself in the reason it gives):

- header: a line of a function's header (its decorators, its def line with the
  defaults and annotations) -> the tests that ran the function's body; but a
  decorator that may register the function by name (`bp.get`, `app.errorhandler`,
  `bp.record_once`, any decorator not known as a plain wrapper) can change which
  handler answers other requests: every test. A cached function (`cache`,
  `lru_cache`) also selects the tests that read its name (callers after the first
  don't run its body);
- name: an assignment or import that binds NAME (module level) or a class's
  member -> the tests that ran a function that reads NAME: in the module, through
  `.NAME` anywhere measured, and through `from module import NAME` elsewhere.
  A line that reads NAME at import is followed in turn (a re-export, a constant
  built from another, a default value, a decorator: its own rule); a class
  member's readers include its class's (a dataclass default). Every test when: a
  star import, `globals()`, `vars()`, `getattr` with a name that isn't a literal
  (in the module or one that imports it); a value that calls something other than
  a plain value's constructor (`VALUES`); no measured line reads NAME (a framework
  may, by convention: gunicorn's settings, `from_object`); a reading line of any
  other kind;
- a name added or removed: the same, from BASE's readers (a new function that
  shadows an old one is read where the old one was; a new function nothing reads:
  no test); a class member added or removed in a class with bases (it may override
  an inherited one), a module's or a class's dunder name: every test;
- imports: a module imported now and not before by any measured module, or the
  other way round: every test (its import-time code runs, or stops);
- docstrings: no test, unless measured code reads `__doc__`; anything else at
  import (a call, a loop, an `if`'s test): every test.

When no test ran a reader of the change, one test that ran the module runs (a
start-up check): a module that fails at import stops every test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_microstack._impact.modules import (
    BINDING,
    CLASS,
    DOCSTRING,
    HEADER,
    OTHER,
    Module,
    Unit,
    imported_modules,
)
from pytest_microstack._impact.recording import real_tests, who
from pytest_microstack._impact.scopes import innermost


class Everything(Exception):
    """Unsure: every test; the message is the reason."""


@dataclass
class Attribution:
    """What the import-time lines of one changed file select: tests, and a reason a rule."""

    tests: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)


Lines = dict[str, dict[int, frozenset[str | None]]]


class Reader:
    """The measured modules of BASE, the recording's lines, and the names already followed."""

    def __init__(self, modules: dict[str, Module], lines: Lines) -> None:
        self.modules = modules
        self.by_name = {module.name: module for module in modules.values()}
        self.lines = lines
        self.followed: dict[tuple[str, str, bool], set[str]] = {}  # what each name selected (a cycle: so far)
        self.reads = 0  # lines found reading the names followed (their bindings left out)

    def body_tests(self, module: Module, function: str) -> set[str]:
        """The tests that ran any line of `function`'s body(ies) in BASE; outside any test: unsure."""
        ran = self.lines.get(module.path, {})
        tests: set[str | None] = set()
        for scope in module.bodies:
            if scope.name == function:
                for number in range(scope.first, scope.last + 1):
                    tests.update(ran.get(number, ()))
        if None in tests:
            raise Everything(
                f"{module.path}: {function} also ran outside any test (start-up, background work)"
            )
        return {test for test in tests if test is not None}

    def readers_of(self, module: Module, names: frozenset[str], attribute: bool) -> set[str]:
        """`follow` from scratch: inside a cycle a name's tests are known only in part."""
        self.followed = {}
        self.reads = 0
        return self.follow(module, names, attribute)

    def follow(self, module: Module, names: frozenset[str], attribute: bool) -> set[str]:
        """The tests that read any of `names` (bound in `module`, as members when `attribute`)."""
        tests: set[str] = set()
        for name in sorted(names):
            known = self.followed.get((module.path, name, attribute))
            if known is not None:
                tests |= known
                continue
            mine = self.followed[(module.path, name, attribute)] = set()
            if not attribute and name.startswith("__") and name != "__all__":
                raise Everything(f"{module.path}: module attribute {name} changed (Python reads it itself)")
            self._dynamic(module, name)
            readers: list[tuple[Module, int, str, str | None]]
            readers = [  # a member's name read as a name: in its class's body only
                (module, line, name, None)
                for line in module.names.get(name, ())
                if not attribute or getattr(module.unit_at(line), "attribute", False)
            ]
            for other in self.modules.values():
                readers += [(other, line, name, None) for line in other.attributes.get(name, ())]
                if attribute:
                    continue
                for line, source, imported, alias in other.imported:
                    if source == module.name and imported == name:
                        readers.append((other, line, name, alias))
            for reader, line, read, bound in sorted(readers, key=lambda entry: (entry[0].path, entry[1])):
                binding = reader.unit_at(line) if reader is module else None
                if binding is not None and read in binding.names and binding.kind != OTHER:
                    continue  # where it is bound, not read
                self.reads += 1
                mine |= self.reading(reader, line, read, bound)
            tests |= mine
        return tests

    def bound_by(self, module: Module, unit: Unit, line: int) -> set[str]:
        """The tests that read what a binding binds; a call in its value (other than a plain value's
        constructor) may do anything at import: unsure. A class member: its class's readers too
        (a dataclass's default, an enum's value reach them without naming the member)."""
        if unit.calls:
            raise Everything(
                f"{module.path}:{line}: calls {unit.calls[0]} at import (its effect can't be followed)"
            )
        tests = self.follow(module, unit.names, unit.attribute)
        if unit.owner:
            tests |= self.follow(module, frozenset({unit.owner.split(".")[0]}), attribute=False)
        return tests

    def _dynamic(self, module: Module, name: str) -> None:
        importers = [
            other
            for other in self.modules.values()
            if other is module
            or any(
                source == module.name or f"{source}.{imported}" == module.name
                for _, source, imported, _ in other.imported
            )
        ]
        for other in importers:
            for line, why in other.dynamic:
                raise Everything(f"{other.path}:{line}: {why}: can't follow who reads {name}")

    def reading(self, module: Module, line: int, name: str, bound: str | None = None) -> set[str]:
        """The tests a line that reads `name` stands for: its function's, or what it binds in turn
        (`bound`: the one name an import binds from it, of the several it may import)."""
        unit = module.unit_at(line)
        if unit is not None and unit.kind == HEADER and unit.function is not None:
            if unit.registers and line <= unit.decorated_until:
                raise Everything(
                    f"{module.path}:{line}: a decorator that registers {unit.function} by name reads {name}"
                    " (it can change which handler answers other requests)"
                )
            tests = self.body_tests(module, unit.function)
            return tests | (self.follow(module, unit.names, unit.attribute) if unit.caches else set())
        body = innermost(module.bodies, line)
        if body is not None:
            tests = self.body_tests(module, body.name)
            cached = next((u for u in module.units if u.function == body.name and u.caches), None)
            return tests | (self.follow(module, cached.names, cached.attribute) if cached else set())
        if unit is not None and unit.kind == BINDING and bound is not None:
            return self.follow(module, frozenset({bound}), unit.attribute)
        if unit is not None and unit.kind in {BINDING, CLASS}:
            if unit.registers and line <= unit.decorated_until:
                raise Everything(f"{module.path}:{line}: a class decorator that may register reads {name}")
            return self.bound_by(module, unit, line)
        kind = unit.kind if unit is not None else "statement"
        raise Everything(
            f"{module.path}:{line}: reads {name} at import in a statement that binds nothing ({kind}):"
            " can't follow it"
        )


def attribute(
    reader: Reader, base: Module, side: Module, other_side: Module, line: int, attribution: Attribution
) -> None:
    """Attribute one changed import-time `line` of `side` (BASE's module or the tree's); raises Everything."""
    path = base.path
    unit = side.unit_at(line)
    if unit is None:
        raise Everything(f"{path}:{line}: runs at import (outside any function body)")
    if unit.kind == DOCSTRING:
        readers = [module.path for module in reader.modules.values() if module.reads_docs]
        if readers:
            raise Everything(f"{path}:{line}: a docstring changed and {readers[0]} reads __doc__")
        attribution.reasons.append(f"{path}:{line}: a docstring changed: no test (docstring rule)")
        return
    if unit.kind not in {HEADER, BINDING, CLASS}:
        raise Everything(f"{path}:{line}: runs at import (a statement other than a definition or a binding)")
    if unit.registers and line <= unit.decorated_until:
        raise Everything(
            f"{path}:{line}: the decorator of {unit.function or min(unit.names)} may register it by name"
            " (a route, an error handler): it can change which handler answers other requests (header rule)"
        )
    other_names = _bound_names(other_side, unit.owner)
    added_or_removed = set(unit.names) - other_names
    if unit.attribute and added_or_removed:
        dunder = [name for name in added_or_removed if name.startswith("__")]
        if dunder or unit.overrides:
            raise Everything(
                f"{path}:{line}: class member {sorted(added_or_removed)[0]} added or removed"
                " (it may override or be called by Python itself)"
            )
    if unit.kind == HEADER and unit.function is not None:
        if unit.registers and added_or_removed:
            raise Everything(f"{path}:{line}: {unit.function} is registered by name and its name changed")
        tests = (
            reader.body_tests(base, unit.function)
            if unit.function in {s.name for s in base.bodies}
            else set()
        )
        if added_or_removed or unit.caches:
            tests |= reader.readers_of(base, unit.names, unit.attribute)
        attribution.tests |= tests
        attribution.reasons.append(
            f"{path}:{line}: {unit.function}'s header changed: {who(tests)} ran it (header rule)"
        )
        return
    reader.followed, reader.reads = {}, 0
    tests = reader.bound_by(base, unit, line)
    names = ", ".join(sorted(unit.names))
    if not reader.reads:
        raise Everything(
            f"{path}:{line}: binds {names}, which no measured line reads: something else may"
            " (a framework by convention, a string) (name rule)"
        )
    attribution.tests |= tests
    attribution.reasons.append(f"{path}:{line}: binds {names}: {who(tests)} read it (name rule)")


def check_imports(reader: Reader, base: Module, tree: Module) -> None:
    """Unsure when the change makes a module imported, or no longer imported, by any measured module:
    its import-time code (routes it registers, what it patches) then runs, or stops running."""
    measured = set(reader.by_name)
    others: set[str] = set()
    for module in reader.modules.values():
        if module.path != base.path:
            others |= imported_modules(module, measured)
    changed = (imported_modules(base, measured) ^ imported_modules(tree, measured)) - others
    if changed:
        raise Everything(
            f"{base.path}: {min(changed)} is imported now and wasn't, or the other way round"
            " (its import-time code runs, or stops running)"
        )


def _bound_names(module: Module, owner: str) -> set[str]:
    """The names bound at module level (`owner` ""), or in the class `owner` names."""
    found: set[str] = set()
    for unit in module.units:
        if unit.owner == owner:
            found |= unit.names
    return found


def start_up_check(lines: Lines, path: str) -> str | None:
    """One test that ran `path` (else any recorded test): it fails too when a module fails at import.

    A test, not a fixture's context (which would select every test using the fixture),
    unless only fixtures ran anything.
    """
    here = {test for tests in lines.get(path, {}).values() for test in tests if test is not None}
    anywhere = {test for per_line in lines.values() for tests in per_line.values() for test in tests}
    anywhere.discard(None)
    for found in (here, anywhere):
        tests = sorted(real_tests(test for test in found if test is not None))
        if tests:
            return tests[0]
    fixtures = sorted(test for test in here or anywhere if test is not None)
    return fixtures[0] if fixtures else None

"""What runs at import in a measured module, and where its names are read: the AST facts the rules use.

A module's import-time statements become units (a function's header, a binding
of names, a class's header, a docstring, anything else); its lines that read a
name or an attribute, and the names it imports from other measured modules, are
indexed so that a changed binding can be followed to every line that reads it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pytest_microstack._impact.scopes import Scope, function_bodies

HEADER, BINDING, CLASS, DOCSTRING, OTHER = "header", "binding", "class", "docstring", "other"
# Decorators that wrap a function in place and register nothing by name.
WRAPPERS = frozenset(
    {"staticmethod", "classmethod", "property", "setter", "getter", "deleter", "contextmanager",
     "asynccontextmanager", "wraps", "abstractmethod", "override", "dataclass", "total_ordering"}
)  # fmt: skip
# Decorators whose wrapper keeps a result: callers after the first don't run the body.
CACHES = frozenset({"cache", "lru_cache", "cached_property"})
DYNAMIC_CALLS = frozenset({"getattr", "hasattr", "setattr", "delattr"})
# Calls at import whose only effect is the value they return (the name they bind carries it).
VALUES = frozenset(
    {"frozenset", "set", "dict", "tuple", "list", "int", "str", "float", "bool", "bytes", "object",
     "range", "sorted", "len", "min", "max", "compile", "getLogger", "namedtuple", "NamedTuple",
     "TypeVar", "Path", "PurePosixPath", "timedelta", "field", "get", "getenv", "local", "Lock",
     "RLock", "defaultdict", "OrderedDict", "Counter", "deque", "ContextVar", "escape", "join",
     "encode", "lower", "upper", "strip", "format", "union"}
)  # fmt: skip
INTROSPECTION = frozenset({"globals", "locals", "vars", "__import__", "import_module"})


@dataclass(frozen=True)
class Unit:
    """One import-time statement (or a function's header): its lines, and what it binds.

    `names` are module-level names, or (`attribute`) names of a class's members;
    `function` is the qualified name of the function a header belongs to;
    `decorated_until` the last line of its decorators (0: none); `registers` a
    decorator that may register the function by name (or one not known to be a
    plain wrapper); `overrides` a class member of a class with bases (a member
    added or removed there may override, or stop overriding, an inherited one).
    """

    kind: str
    first: int
    last: int
    names: frozenset[str] = frozenset()
    attribute: bool = False
    function: str | None = None
    decorated_until: int = 0
    registers: bool = False
    caches: bool = False
    overrides: bool = False
    owner: str = ""  # the class a member belongs to ("Outer.Inner."), "" at module level
    calls: tuple[str, ...] = ()  # what a binding's value calls at import (not a known constructor)


@dataclass
class Module:
    """A measured module as BASE has it: its units, function bodies, and the lines reading each name."""

    path: str
    name: str
    units: list[Unit]
    bodies: list[Scope]
    names: dict[str, set[int]] = field(default_factory=dict)  # Name nodes (and `global X`)
    attributes: dict[str, set[int]] = field(default_factory=dict)  # Attribute nodes by attr
    imported: list[tuple[int, str, str, str]] = field(default_factory=list)  # line, module, name, bound as
    dynamic: list[tuple[int, str]] = field(default_factory=list)  # line, why names can't be followed
    reads_docs: bool = False

    def unit_at(self, line: int) -> Unit | None:
        for unit in self.units:
            if unit.first <= line <= unit.last:
                return unit
        return None


def module_name(path: str, packages: set[str]) -> str:
    """The dotted name of the module at repository path `path`; `packages`: folders holding an __init__.py."""
    pure = PurePosixPath(path)
    parts = [] if pure.stem == "__init__" else [pure.stem]
    folder = pure.parent
    while str(folder) in packages:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _is_registering(node: ast.expr) -> bool:
    """A decorator that may register by name: not a known wrapper, or an app's/blueprint's method."""
    name = _decorator_name(node)
    target = node.func if isinstance(node, ast.Call) else node
    if name in {"setter", "getter", "deleter"}:
        return False
    if isinstance(target, ast.Attribute) and not (
        isinstance(target.value, ast.Name) and target.value.id in {"functools", "contextlib", "abc", "typing"}
    ):
        return True  # bp.get, app.errorhandler, bp.record_once...
    return name not in WRAPPERS and name not in CACHES


def _bound(target: ast.expr) -> set[str]:
    """Names a target binds, or (subscript, attribute) the names of what it changes."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return set().union(*(_bound(element) for element in target.elts))
    if isinstance(target, ast.Starred | ast.Subscript | ast.Attribute):
        names = _bound(target.value)
        return names | {target.attr} if isinstance(target, ast.Attribute) else names
    return set()


def _calls(value: ast.expr) -> set[str]:
    """What `value` calls, other than constructors of plain values (`VALUES`)."""
    called = set()
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            name = _decorator_name(node)
            if name not in VALUES:
                called.add(name or ast.unparse(node.func))
    return called


def imported_modules(module: Module, measured: set[str]) -> set[str]:
    """The modules `module` imports, their packages too (`from a import b`: a.b if it is measured)."""
    found: set[str] = set()
    for _, source, name, _ in module.imported:
        dotted = f"{source}.{name}" if name and f"{source}.{name}" in measured else source
        parts = dotted.split(".")
        found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return found


def _definition(
    statement: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
    kind: str,
    end: int,
    prefix: str,
    in_class: bool,
    bases: bool,
    *,
    function: str | None = None,
) -> Unit:
    """A def's or class's header unit: from its first decorator to `end`."""
    decorators = statement.decorator_list
    return Unit(
        kind,
        decorators[0].lineno if decorators else statement.lineno,
        end,
        frozenset({statement.name}),
        attribute=in_class,
        function=function,
        decorated_until=statement.lineno - 1 if decorators else 0,
        registers=any(_is_registering(decorator) for decorator in decorators),
        caches=any(_decorator_name(decorator) in CACHES for decorator in decorators),
        overrides=bases,
        owner=prefix,
    )


def _units(body: list[ast.stmt], prefix: str, in_class: bool, bases: bool, found: list[Unit]) -> None:
    for statement in body:
        first, last = statement.lineno, statement.end_lineno or statement.lineno
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            # A one-line def ends in its body (it ran at import: every test).
            end = statement.body[0].lineno - 1
            name = f"{prefix}{statement.name}"
            found.append(_definition(statement, HEADER, end, prefix, in_class, bases, function=name))
        elif isinstance(statement, ast.ClassDef):
            end = max(statement.lineno, statement.body[0].lineno - 1)
            found.append(_definition(statement, CLASS, end, prefix, in_class, bases))
            has_bases = bool(statement.bases or statement.keywords)
            _units(statement.body, f"{prefix}{statement.name}.", True, has_bases, found)
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = set().union(*(_bound(target) for target in targets))
            calls = tuple(sorted(_calls(statement.value))) if statement.value is not None else ()
            found.append(
                Unit(
                    BINDING,
                    first,
                    last,
                    frozenset(names),
                    in_class,
                    overrides=bases,
                    owner=prefix,
                    calls=calls,
                )
            )
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            names = {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
            kind = OTHER if "*" in names else BINDING
            found.append(Unit(kind, first, last, frozenset(names), in_class, overrides=bases, owner=prefix))
        elif (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            found.append(Unit(DOCSTRING, first, last))
        elif isinstance(statement, ast.If | ast.Try) and not in_class:
            # The test/handler lines run at import; the bodies are statements like any other.
            inner: list[ast.stmt] = [*statement.body, *statement.orelse]
            if isinstance(statement, ast.Try):
                inner += [*statement.finalbody, *(line for h in statement.handlers for line in h.body)]
            covered = {
                line for node in inner for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
            }
            for line in range(first, last + 1):
                if line not in covered:
                    found.append(Unit(OTHER, line, line))
            _units(inner, prefix, in_class, bases, found)
        else:
            found.append(Unit(OTHER, first, last))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of `from <level dots><target> import ...` written in `module`."""
    if level == 0:
        return target or ""
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    package = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*package, *([target] if target else [])])


def parse(path: str, name: str, source: str) -> Module:
    """The facts of one module's text; raises SyntaxError as `ast` does."""
    tree = ast.parse(source)
    units: list[Unit] = []
    _units(tree.body, "", False, False, units)
    module = Module(path, name, units, function_bodies(tree))
    is_package = PurePosixPath(path).stem == "__init__"
    viewed: list[tuple[int, str | None]] = []  # vars(X): X's name, None for vars() or an expression
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            module.names.setdefault(node.id, set()).add(node.lineno)
            if node.id in INTROSPECTION and node.id != "vars":
                module.dynamic.append((node.lineno, f"{node.id}()"))
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for bound in node.names:
                module.names.setdefault(bound, set()).add(node.lineno)
        elif isinstance(node, ast.Attribute):
            module.attributes.setdefault(node.attr, set()).add(node.lineno)
            if node.attr in {"__dict__", "import_module"}:
                module.dynamic.append((node.lineno, f".{node.attr}"))
            if node.attr in {"__doc__", "getdoc"}:
                module.reads_docs = True
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called = node.func.id
            literal = len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
            if called in DYNAMIC_CALLS and not literal:
                module.dynamic.append((node.lineno, f"{called} with a name that isn't a literal"))
            first = node.args[0] if node.args else None
            if called == "vars" and (first is None or isinstance(first, ast.Name)):  # vars(f()): an object's
                viewed.append((node.lineno, first.id if isinstance(first, ast.Name) else None))
            if called == "getdoc":
                module.reads_docs = True
        elif isinstance(node, ast.ImportFrom):
            source_module = _resolve(name, is_package, node.level, node.module)
            for alias in node.names:
                if alias.name == "*":
                    module.dynamic.append((node.lineno, f"from {source_module} import *"))
                module.imported.append((node.lineno, source_module, alias.name, alias.asname or alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.imported.append(
                    (node.lineno, alias.name, "", alias.asname or alias.name.split(".")[0])
                )
    modules_bound = {bound for _, _, imported, bound in module.imported if not imported}
    for line, read in viewed:  # vars(record) reads an object; vars() or vars(a_module) a namespace
        if read is None or read in modules_bound:
            module.dynamic.append((line, "vars()"))
    return module

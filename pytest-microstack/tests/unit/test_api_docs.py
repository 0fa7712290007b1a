"""docs/api.md can't drift from the code: every public name, method and fixture is there with its signature.

The signatures are rendered from `inspect.signature` (annotations as written in
the source), so a changed parameter, default or return type fails here until
the reference shows it.
"""

from __future__ import annotations

import ast
import enum
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_microstack
from pytest_microstack import plugin

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
FIXTURES_MODULE = Path(plugin.__file__).parent / "_plugin" / "fixtures.py"


class _Written:
    """An annotation shown as written (a string, under `from __future__ import annotations`)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _as_written(annotation: Any) -> Any:
    return _Written(annotation) if isinstance(annotation, str) else annotation


def reference() -> str:
    """The reference as a reader sees it: `\\|` in a table cell is a `|`."""
    return DOCS.read_text().replace("\\|", "|")


def signature(function: Callable[..., Any], *, drop_self: bool = False, returns: bool = True) -> str:
    """`(a: int, *, b: str = 'x') -> T`, annotations as written in the source."""
    found = inspect.signature(function)
    parameters = [p.replace(annotation=_as_written(p.annotation)) for p in found.parameters.values()]
    if drop_self:
        parameters = parameters[1:]
    back = _as_written(found.return_annotation) if returns else inspect.Signature.empty
    return str(found.replace(parameters=parameters, return_annotation=back))


def documented_api() -> Iterator[tuple[str, str]]:
    """(what, the text the reference must contain) for every public name and every public method."""
    for name in pytest_microstack.__all__:
        value = getattr(pytest_microstack, name)
        if name == "__version__":
            yield name, "`__version__`"
        elif inspect.isclass(value) and issubclass(value, BaseException):
            own_init = "__init__" in vars(value)
            yield name, f"{name}{signature(value, returns=False)}" if own_init else f"### `{name}`"
        elif inspect.isclass(value):
            if issubclass(value, enum.Enum):  # its signature is Enum's own: the members say what it is
                yield name, f"class {name}(enum.Enum)"
                yield from ((f"{name}.{m.name}", f"{name}.{m.name}`") for m in value)
            else:
                yield name, f"{name}{signature(value, returns=False)}"
            for attribute, member in vars(value).items():
                if attribute.startswith("_"):
                    continue
                if isinstance(member, property):
                    yield f"{name}.{attribute}", f".{attribute}`"
                elif isinstance(member, classmethod):
                    method = signature(member.__func__, drop_self=True)
                    yield f"{name}.{attribute}", f"{name}.{attribute}{method}"
                elif inspect.isfunction(member):
                    yield f"{name}.{attribute}", f".{attribute}{signature(member, drop_self=True)}"
        else:
            yield name, f"{name}{signature(value)}"


def _fixture_scope(decorator: ast.expr) -> str | None:
    """The scope of a `@pytest.fixture` / `@pytest.fixture(scope=...)` decorator; None for another one."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call else decorator
    if not (isinstance(target, ast.Attribute) and target.attr == "fixture"):
        return None
    for keyword in call.keywords if call else []:
        if keyword.arg == "scope" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return "function"


def documented_fixtures() -> Iterator[tuple[str, str]]:
    """(fixture, "`name` (scope scope) → `what it gives`") for each public fixture of the plugin."""
    tree = ast.parse(FIXTURES_MODULE.read_text())
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_") or node.returns is None:
            continue
        scopes = [scope for scope in map(_fixture_scope, node.decorator_list) if scope]
        if not scopes:
            continue
        gives = ast.unparse(node.returns)
        if gives.startswith("Iterator[") and gives.endswith("]"):  # a yield fixture gives what it yields
            gives = gives[len("Iterator[") : -1]
        yield node.name, f"`{node.name}` ({scopes[0]} scope) → `{gives}`"


def test_the_checks_see_the_whole_api() -> None:
    """So a broken walker can't pass vacuously."""
    names = dict(documented_api())
    fixtures = dict(documented_fixtures())

    assert set(pytest_microstack.__all__) <= set(names)
    assert {"Stack.url", "Faults.down", "ServiceSpec.parse", "ServiceClient.base_url"} <= set(names)
    assert names["wait_for"] == (
        "wait_for(condition: Callable[[], T], *, timeout: float, what: str | None = None, "
        "interval: float = 0.02) -> T"
    )
    assert set(fixtures) == {"stack_settings", "stack", "service_url", "service_client", "faults"}
    assert fixtures["stack"] == "`stack` (session scope) → `Stack`"


@pytest.mark.parametrize(("what", "text"), list(documented_api()), ids=lambda value: str(value)[:40])
def test_every_public_name_and_method_is_in_the_reference_with_its_signature(what: str, text: str) -> None:
    assert text in reference(), f"docs/api.md: {what}: write `{text}`"


@pytest.mark.parametrize(("fixture", "text"), list(documented_fixtures()))
def test_every_fixture_is_in_the_reference_with_its_scope_and_value(fixture: str, text: str) -> None:
    assert text in reference(), f"docs/api.md: fixture {fixture}: write {text}"


def test_the_hook_is_in_the_reference_with_its_signature() -> None:
    hook = plugin.HookSpecs.pytest_microstack_add_faults

    assert f"pytest_microstack_add_faults{signature(hook, drop_self=True)}" in reference()


def test_every_ini_option_and_command_line_option_is_in_the_reference() -> None:
    text = reference()
    options = [f"--{name.replace('_', '-')}" for name in plugin._OPTIONS]

    missing = [name for name in [*plugin._INI, *options] if f"`{name}" not in text]

    assert missing == []


def test_every_example_in_the_reference_is_valid_python() -> None:
    blocks = reference().split("```python\n")[1:]

    assert len(blocks) >= 10
    for block in blocks:
        ast.parse(block.split("```", 1)[0])


def listed_modules(tree: str) -> set[str]:
    """The module paths a `tree`-style listing names: `plugin.py`, `_core/stack.py`..."""
    listed: set[str] = set()
    folder = ""
    for line in tree.splitlines():
        top = re.match(r"^[├└]── (.*)", line)
        nested = re.match(r"^│   [├└]── (\S+)", line)
        if top:
            words = top.group(1).split()
            folder = words[0] if words[0].endswith("/") else ""
            listed.update(word for word in words if word.endswith(".py"))
        elif nested and folder:
            listed.add(folder + nested.group(1))
    return listed


def test_the_tree_reader_tells_folders_apart() -> None:
    tree = "├── a.py b.py   job\n├── _x/      internal\n│   ├── a.py   job\n│   └── c.py   job\n└── d.py"

    assert listed_modules(tree) == {"a.py", "b.py", "_x/a.py", "_x/c.py", "d.py"}


def test_the_repository_readme_lists_every_module_of_the_package() -> None:
    """README.md's design section names each module in its tree, with its one job."""
    readme = DOCS.parents[2] / "README.md"
    tree = readme.read_text().split("**The plugin's modules.**", 1)[1].split("\n```\n", 2)[1]
    package = Path(pytest_microstack.__file__).parent
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "__init__.py" or path.parent == package  # a subpackage is its folder's line
    }

    assert len(modules) > 30
    assert sorted(modules - listed_modules(tree)) == [], "add them to README.md's tree"
    assert sorted(listed_modules(tree) - modules) == [], "gone: remove them from README.md's tree"

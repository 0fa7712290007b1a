"""No internal type shows through the public API.

Semantic versioning covers `pytest_microstack.__all__`, so every type a public
signature names must be in it too: a parameter, a return, an attribute, a
property or a method of a public class that names a class of an internal
module (`pytest_microstack._engine.compose.ProjectCompose`) would put internal
code under semver. The walk resolves annotations as a type checker does (the
names imported under TYPE_CHECKING included) and looks through generics,
unions and Callable; types of other distributions (docker-py, requests,
pytest) are theirs to version.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import pytest_microstack

PACKAGE = "pytest_microstack"
PUBLIC = {
    name: getattr(pytest_microstack, name) for name in pytest_microstack.__all__ if name != "__version__"
}
PUBLIC_CLASSES = {value for value in PUBLIC.values() if inspect.isclass(value)}


def _type_checking_names(module: types.ModuleType) -> dict[str, Any]:
    """The names a module imports under `if TYPE_CHECKING:`, as a type checker sees them."""
    tree = ast.parse(inspect.getsource(module))
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__name__, "exec"), names)
    return names


def hints(of: Any, module: types.ModuleType | None = None) -> dict[str, Any]:
    """`of`'s own annotations, resolved in `module` (default: its own), TYPE_CHECKING names included."""
    module = module or inspect.getmodule(of)
    assert module is not None, of
    if inspect.isclass(of):  # its own body only: its bases' are walked as classes of their own
        of = types.SimpleNamespace(__annotations__=dict(vars(of).get("__annotations__", {})))
    return typing.get_type_hints(of, globalns=vars(module), localns=_type_checking_names(module))


def classes_in(annotation: Any) -> Iterator[type]:
    """Every class an annotation names: `list[ProbeResult] | None` gives list, ProbeResult, NoneType."""
    if isinstance(annotation, list):  # Callable's parameter list
        for item in annotation:
            yield from classes_in(item)
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return
    if isinstance(origin, type):
        yield origin
    elif inspect.isclass(annotation):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from classes_in(argument)


def _own_classes(cls: type) -> Iterator[type]:
    """`cls` and its bases in this package: those of other distributions (requests.Session) are theirs."""
    return (klass for klass in cls.__mro__ if klass is cls or klass.__module__.startswith(PACKAGE))


def _own_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public members (and `__init__`) of `cls` and of its bases in this package."""
    seen: set[str] = set()
    for klass in _own_classes(cls):
        for name, member in vars(klass).items():
            if (name.startswith("_") and name != "__init__") or name in seen:
                continue
            seen.add(name)
            yield name, member


def signature_types(value: Any) -> Iterator[tuple[str, type]]:
    """(where, class) for every class a public name's signatures name."""
    if inspect.isfunction(value):
        for where, annotation in hints(value).items():
            for found in classes_in(annotation):
                yield f"{value.__name__}: {where}", found
        return
    for klass in _own_classes(value):  # class-level annotations and dataclass fields
        for where, annotation in hints(klass).items():
            if not where.startswith("_"):
                for found in classes_in(annotation):
                    yield f"{value.__name__}.{where}", found
    for name, member in _own_members(value):
        function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
        if not inspect.isfunction(function):
            continue
        for where, annotation in hints(function).items():
            for found in classes_in(annotation):
                yield f"{value.__name__}.{name}: {where}", found


def internal_types(value: Any) -> list[str]:
    """`where -> module.Class` for each class of this package, outside `__all__`, that `value` shows."""
    return sorted(
        f"{where} -> {found.__module__}.{found.__qualname__}"
        for where, found in signature_types(value)
        if found.__module__.startswith(PACKAGE) and found not in PUBLIC_CLASSES
    )


def assigned_attributes(cls: type) -> set[str]:
    """Public attributes its methods set on `self` (`self.x = ...`), read from the source."""
    names: set[str] = set()
    for klass in _own_classes(cls):
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and not target.attr.startswith("_")
                ):
                    names.add(target.attr)
    return names


# The walker itself: it must see an internal type wherever a signature can hide one.
def _planted_parameter(compose: ProjectCompose) -> None: ...


def _planted_return() -> Iterator[list[Probe] | None]:
    yield None


def _planted_callable(callback: Callable[[ProjectCompose], None]) -> None: ...


class _PlantedProperty:
    @property
    def compose(self) -> ProjectCompose:
        raise NotImplementedError


if typing.TYPE_CHECKING:
    from pytest_microstack._core.readiness import Probe
    from pytest_microstack._engine.compose import ProjectCompose


@pytest.mark.parametrize(
    ("planted", "internal"),
    [
        (_planted_parameter, "pytest_microstack._engine.compose.ProjectCompose"),
        (_planted_return, "pytest_microstack._core.readiness.Probe"),
        (_planted_callable, "pytest_microstack._engine.compose.ProjectCompose"),
    ],
    ids=["parameter", "inside-a-generic-return", "callable-parameter"],
)
def test_the_walker_finds_an_internal_type_in_a_signature(planted: Callable[..., Any], internal: str) -> None:
    found = [f"{where} -> {cls.__module__}.{cls.__qualname__}" for where, cls in signature_types(planted)]

    assert any(line.endswith(internal) for line in found), found


def test_the_walker_finds_an_internal_type_behind_a_property() -> None:
    from pytest_microstack._engine.compose import ProjectCompose

    found = [cls for _, cls in signature_types(_PlantedProperty)]

    assert ProjectCompose in found


def test_the_walker_sees_the_whole_api() -> None:
    """So that a broken walker can't pass vacuously: what it finds behind the API's entrances."""
    reached = {cls for value in PUBLIC.values() for _, cls in signature_types(value)}

    assert {
        pytest_microstack.Stack,
        pytest_microstack.ProbeResult,
        pytest_microstack.ContainerState,
        pytest_microstack.EngineInfo,
        pytest_microstack.ImagePlan,
        pytest_microstack.ServiceSpec,
        pytest_microstack.ServiceDiagnosis,
        pytest_microstack.StackSettings,
        pytest_microstack.Fault,
    } <= reached


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_a_public_name_shows_no_internal_type(name: str) -> None:
    assert internal_types(PUBLIC[name]) == [], (
        f"{name} shows internal types: export and document them (docs/reference/api.md), or keep them behind "
        "an internal entry"
    )


@pytest.mark.parametrize("name", sorted(name for name, value in PUBLIC.items() if inspect.isclass(value)))
def test_every_public_attribute_of_a_public_class_is_declared(name: str) -> None:
    """An attribute set in `__init__` without a class-level annotation would escape the walk."""
    cls = PUBLIC[name]
    declared = {attr for klass in _own_classes(cls) for attr in hints(klass)}
    declared |= {attr for attr, member in _own_members(cls) if isinstance(member, property)}

    assert sorted(assigned_attributes(cls) - declared) == [], f"annotate them in the body of {name}"


def test_every_type_reached_from_the_api_is_exported() -> None:
    """A public class a signature reaches is in `__all__`, so it is public and documented: the
    docs' reference test (docs/_tools/test_reference.py) fails on a name of `__all__` without
    its entry in docs/reference/api.md."""
    reached = {cls for value in PUBLIC.values() for _, cls in signature_types(value)}
    ours = {cls.__name__ for cls in reached if cls.__module__.startswith(PACKAGE)}

    assert sorted(ours - set(pytest_microstack.__all__)) == []

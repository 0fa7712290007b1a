"""The public line: what `pytest_microstack` exports, and that this repository's users keep to it.

`tests/`, `bench/` and the example project use the plugin as any other project
would, so they may import only the names in `pytest_microstack.__all__`, from
the package itself: not an internal module (`pytest_microstack._core...`), not
a name outside `__all__`, not an alias module kept for old imports
(`pytest_microstack.clients`...). The checker reads their imports with `ast`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_microstack
from pytest_microstack import _aliases

PACKAGE = "pytest_microstack"
REPOSITORY = Path(__file__).resolve().parents[3]
PACKAGE_DIR = Path(pytest_microstack.__file__).parent
# Where this repository uses the plugin as an outside project would.
USERS = [REPOSITORY / "tests", REPOSITORY / "bench", REPOSITORY / "pytest-microstack/tests/example_project"]
# Old import paths kept until 2.0 (no files: `_aliases` builds them): each warns, then re-exports.
ALIASES = {"clients", "errors", "faults", "settings", "stack", "waiting"}
# Public modules that are not aliases: the pytest11 entry and the prebuild and prune commands.
ENTRY_MODULES = {"plugin", "prebuild", "prune"}


def internal_imports(source: str, public: frozenset[str], filename: str = "<snippet>") -> list[str]:
    """Every import in `source` that reaches past the public API, as `file:line: what`."""
    found: list[str] = []
    package_names: set[str] = (
        set()
    )  # local names bound to the package itself (`import pytest_microstack as m`)

    def bad(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    package_names.add(alias.asname or PACKAGE)
                elif alias.name.startswith(f"{PACKAGE}."):
                    bad(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(f"{PACKAGE}."):
                bad(node, f"from {node.module} import ...")
            elif node.module == PACKAGE:
                for alias in node.names:
                    if alias.name != "*" and alias.name not in public:
                        bad(node, f"from {PACKAGE} import {alias.name} (not in __all__)")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in package_names
            and node.attr not in public
        ):
            bad(node, f"{node.value.id}.{node.attr} (not in __all__)")
    return found


def _python_files() -> Iterator[Path]:
    for folder in USERS:
        assert folder.is_dir(), f"{folder}: the guard has nothing to read (moved? update USERS)"
        yield from sorted(folder.rglob("*.py"))


PUBLIC = frozenset(pytest_microstack.__all__)


# The checker itself: each way past the line is caught, and the public way is not.
@pytest.mark.parametrize(
    ("snippet", "caught"),
    [
        ("import pytest_microstack._core.stack", "import pytest_microstack._core.stack"),
        ("from pytest_microstack._ownership import OWNER_LABEL", "from pytest_microstack._ownership"),
        ("from pytest_microstack.clients import ServiceClient", "from pytest_microstack.clients"),
        ("import pytest_microstack.faults as f", "import pytest_microstack.faults"),
        ("from pytest_microstack import Stack, _HOMES", "import _HOMES (not in __all__)"),
        ("from pytest_microstack import plugin", "import plugin (not in __all__)"),
        ("import pytest_microstack as m\nm._core", "m._core (not in __all__)"),
        ("def f():\n    from pytest_microstack._errors import Any", "from pytest_microstack._errors"),
    ],
    ids=["import-internal", "from-internal", "alias-module", "import-alias", "non-public-name",
         "entry-module", "attribute", "nested"],
)  # fmt: skip
def test_the_checker_catches_a_planted_internal_import(snippet: str, caught: str) -> None:
    found = internal_imports(snippet, PUBLIC, "planted.py")

    assert len(found) == 1, found
    assert caught in found[0]
    assert found[0].startswith("planted.py:")


def test_the_checker_lets_public_imports_through() -> None:
    snippet = (
        "import pytest_microstack\nimport pytest_microstack as m\n"
        "from pytest_microstack import Stack, wait_for\nm.Stack\npytest_microstack.__version__\n"
        "from .pytest_microstack_helpers import x\nimport pytest_microstack_other._x\n"
    )

    assert internal_imports(snippet, PUBLIC) == []


def test_tests_bench_and_the_example_project_import_only_public_names() -> None:
    files = list(_python_files())
    found = [
        line
        for path in files
        for line in internal_imports(path.read_text(), PUBLIC, str(path.relative_to(REPOSITORY)))
    ]

    assert len(files) > 20  # the folders were read (a wrong path would make this pass vacuously)
    assert found == [], "import these from `pytest_microstack` instead:\n" + "\n".join(found)


# The API as a user meets it.
def test_the_package_prints_its_public_api() -> None:
    printed = subprocess.run(
        [sys.executable, "-c", "import pytest_microstack as m, json; print(json.dumps(m.__all__))"],
        capture_output=True,
        text=True,
        check=True,
    )

    names = json.loads(printed.stdout)
    assert names == pytest_microstack.__all__
    assert {
        "Stack",
        "StackSettings",
        "ServiceSpec",
        "open_stack",
        "Faults",
        "ServiceClient",
        "wait_for",
    } <= set(names)
    assert {"HarnessError", "WaitTimeout", "FaultError"} <= set(names)
    assert not [name for name in names if name.startswith("_") and name != "__version__"]


@pytest.mark.parametrize("name", pytest_microstack.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(pytest_microstack, name)

    assert value is not None
    if name != "__version__":
        assert value.__module__.startswith(f"{PACKAGE}._"), "defined in an internal module, exported here"


def test_a_stack_is_given_not_built_and_its_teardown_is_not_public() -> None:
    """Stack is abstract: the fixture and open_stack give the harness's own, which starts and removes it."""
    with pytest.raises(TypeError, match="abstract"):
        pytest_microstack.Stack(engine=None, host="127.0.0.1", services=(), stack_timeout=1.0)  # type: ignore[abstract,arg-type]

    assert not {"start", "stop", "hand_to_reaper", "probe", "compose", "owner"} & set(
        dir(pytest_microstack.Stack)
    )


def test_a_name_outside_the_api_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'Stak'"):
        _ = pytest_microstack.Stak


def test_the_top_level_modules_are_the_entry_points() -> None:
    """A new top-level module is public and documented: the old paths have no module of their own."""
    top = {path.stem for path in PACKAGE_DIR.glob("*.py")} - {"__init__"}

    assert {name for name in top if not name.startswith("_")} == ENTRY_MODULES
    assert set(_aliases.ALIASES) == ALIASES


def _run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


def test_importing_each_alias_module_warns_naming_what_to_import_then_re_exports() -> None:
    """An old path works until 2.0 but says so: under filterwarnings = error, its import fails."""
    probe = (
        "import json, sys, warnings\n"
        "import pytest_microstack as public\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    with warnings.catch_warnings(record=True) as seen:\n"
        "        warnings.simplefilter('always')\n"
        "        exec(f'import pytest_microstack.{name} as module', globals())\n"
        "    found[name] = {\n"
        "        'same': all(getattr(module, n) is getattr(public, n) for n in module.__all__),\n"
        "        'names': module.__all__,\n"
        "        'warnings': [(w.category.__name__, str(w.message), w.filename) for w in seen],\n"
        "    }\n"
        "print(json.dumps(found))\n"
    )

    result = _run_python(probe, *sorted(ALIASES))

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert sorted(found) == sorted(ALIASES)
    for name, seen in found.items():
        assert seen["same"], name
        assert seen["names"]
        assert set(seen["names"]) <= set(pytest_microstack.__all__)
        [(category, message, filename)] = seen["warnings"]
        assert category == "DeprecationWarning"
        assert message == (
            f"pytest_microstack.{name} is deprecated and will be removed in 2.0: "
            f"import {', '.join(seen['names'])} from pytest_microstack"
        )
        assert filename == "<string>", "the warning points at the importing line, not at importlib"


def test_an_alias_import_fails_where_warnings_are_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "from pytest_microstack.stack import Stack"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "DeprecationWarning: pytest_microstack.stack is deprecated" in result.stderr


def test_the_package_and_the_plugin_import_without_a_warning() -> None:
    """The pytest11 entry loads into every run, under the users' filterwarnings = error."""
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import pytest_microstack, pytest_microstack.plugin, pytest_microstack.prebuild; "
            "pytest_microstack.Stack; pytest_microstack.open_stack",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")

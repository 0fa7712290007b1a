"""The reference lists everything a user can set, call, catch or read (issue 28, 3).

The tables of ini keys, options, fixtures, markers and hooks are generated
(reference_hook.py); these tests prove the generator sees what pytest itself
sees, and that every public name, error and environment variable has its entry.
Adding an option, fixture, public name, error or variable without one fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_microstack
from pytest_microstack._errors import HarnessError
from reference_hook import ENVIRONMENT, declared, fixtures, hooks, markers, package_page_tables, render

REPOSITORY = Path(__file__).resolve().parents[2]
DOCS = REPOSITORY / "docs"
SOURCE = REPOSITORY / "pytest-microstack" / "src" / "pytest_microstack"
API_PAGE = DOCS / "reference" / "api.md"
TROUBLESHOOTING = DOCS / "troubleshooting.md"
# `environ.get("X")`, `environ["X"]`, `getenv("X")`, and constants like `TIMEOUT_ENV = "X"`.
ENV_READ = re.compile(r"""(?:environ(?:\.get\(|\[)|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
ENV_CONSTANT = re.compile(r"""^[A-Z_]*ENV[A-Z_]* = ["']([A-Z][A-Z0-9_]+)["']""", re.M)
HELP_GROUP = "compose stack for integration tests (pytest-microstack):"


def _all_modules() -> None:
    for module in pkgutil.walk_packages(pytest_microstack.__path__, "pytest_microstack."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found)) if found else found


def section(markdown: str, heading: str) -> str:
    """The text under `heading` (a full heading line) up to the next heading of its level or higher."""
    level = len(heading) - len(heading.lstrip("#"))
    after = markdown.split(f"\n{heading}\n", 1)[1]
    return re.split(rf"^#{{1,{level}}} ", after, maxsplit=1, flags=re.M)[0]


@pytest.fixture(scope="module")
def pytest_help(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`pytest --help` as a user sees it, in an empty folder: every option and ini key registered."""
    shown = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=tmp_path_factory.mktemp("help"),
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout


def test_the_options_table_has_every_option_pytest_shows(pytest_help: str) -> None:
    group = pytest_help.split(HELP_GROUP, 1)[1].split("\n\n", 1)[0]
    shown = set(re.findall(r"^\s+(--[a-z][a-z-]+)", group, re.M))
    table = render("<!-- reference: options -->")

    assert shown == {flag for option in declared().options for flag in option.flags}
    assert all(f"`{flag}" in table for flag in shown)
    assert all(option.help.strip() for option in declared().options)


def test_the_ini_table_has_every_stack_key_pytest_shows(pytest_help: str) -> None:
    shown = set(re.findall(r"^  (stack_[a-z_]+) ", pytest_help, re.M))
    table = render("<!-- reference: ini -->")

    assert shown == {key.name for key in declared().ini}
    assert all(f"`{name}`" in table for name in shown)
    assert all(key.help.strip() for key in declared().ini)


def test_every_fixture_is_documented() -> None:
    from pytest_microstack._session import doubles_fixture
    from pytest_microstack._session import fixtures as fixtures_module

    kinds = ("FixtureFunctionDefinition", "FixtureFunctionMarker")
    defined: set[str] = set()
    for module in (fixtures_module, doubles_fixture):
        defined |= {name for name, value in vars(module).items() if type(value).__name__ in kinds}
        defined |= {name for name, value in vars(module).items() if hasattr(value, "_pytestfixturefunction")}
    documented = {fixture.name: fixture for fixture in fixtures()}
    page = render("<!-- reference: fixtures -->")

    assert defined
    assert defined <= set(documented)
    for name, fixture in documented.items():
        assert fixture.doc.strip(), f"fixture {name} has no docstring"
        if not name.startswith("_") or fixture.autouse:
            assert f"### `{name}`" in page


def test_every_marker_and_hook_is_documented() -> None:
    assert markers()
    assert all(text.strip() for text in markers().values())
    assert hooks()
    assert all(text.strip() for text in hooks().values())


def test_every_public_name_has_an_api_entry() -> None:
    page = API_PAGE.read_text()
    missing = [
        name
        for name in pytest_microstack.__all__
        if name != "__version__" and f"::: pytest_microstack.{name}\n" not in page
    ]

    assert missing == []
    assert "`pytest_microstack.__version__`" in page


def test_every_error_has_a_troubleshooting_entry_with_cause_and_fix() -> None:
    _all_modules()
    page = TROUBLESHOOTING.read_text()
    ours = [cls for cls in _subclasses(HarnessError) if cls.__module__.startswith("pytest_microstack")]
    errors = sorted(cls.__name__ for cls in ours)

    assert len(errors) >= 10
    missing = [name for name in errors if f"\n## {name}\n" not in page]
    assert missing == []
    for name in errors:
        text = section(page, f"## {name}")
        assert "**Cause**" in text, name
        assert "**Fix**" in text, name
    assert "\n## HarnessError\n" in page


def test_every_public_exception_or_warning_outside_harness_error_has_an_entry() -> None:
    page = TROUBLESHOOTING.read_text()
    others = [
        name
        for name in pytest_microstack.__all__
        if inspect.isclass(value := getattr(pytest_microstack, name))
        and issubclass(value, BaseException | Warning)
        and not issubclass(value, HarnessError)
    ]

    assert others
    assert [name for name in others if f"\n### {name}\n" not in page] == []


def test_every_environment_variable_the_plugin_reads_is_in_the_table() -> None:
    read = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        read |= set(ENV_READ.findall(text)) | set(ENV_CONSTANT.findall(text))

    assert {"STACK_TIMEOUT", "CI", "DOCKER_HOST", "MICROSTACK_RUN_ID"} <= read
    assert sorted(read - set(ENVIRONMENT)) == []


def test_error_messages_name_their_troubleshooting_entry() -> None:
    from pytest_microstack._errors import TROUBLESHOOTING as ADDRESS
    from pytest_microstack._errors import SettingsError, StackStartError

    message = str(SettingsError("stack_timeout: 'x' is not a number"))
    assert message.endswith(f"[docs: {ADDRESS}#settingserror]")
    first_line = str(StackStartError("p", "not ready", 1.0)).splitlines()[0]
    assert first_line.endswith(f"[docs: {ADDRESS}#stackstarterror]")
    assert ADDRESS == "https://microstack-dev.github.io/microstack/troubleshooting/"


def test_the_package_page_shows_the_configuration_tables_as_the_code_declares_them() -> None:
    """pytest-microstack/README.md (the index's page) needs no link to the repository for them."""
    page = (REPOSITORY / "pytest-microstack" / "README.md").read_text()

    assert package_page_tables() in page
    assert "github.com/microstack-dev/microstack#" not in page

"""Installed but unused, the plugin does nothing: a project's own `stack` fixture passes unchanged."""

from __future__ import annotations

import pytest

OWN_STACK = """
import pytest

class DockerCompose:  # stands in for a plain Testcontainers fixture value
    pass

@pytest.fixture(scope="{scope}")
def stack():
    yield DockerCompose()

@pytest.fixture
def faults():
    return "the project's own"

def test_uses_its_own_stack(stack, faults):
    assert isinstance(stack, DockerCompose)
    assert faults == "the project's own"

def test_fails_with_its_own_stack(stack):
    assert False, "expected failure"
"""


@pytest.mark.parametrize("scope", ["session", "function"])
def test_a_project_with_its_own_stack_fixture_and_no_declaration_passes_unchanged(
    pytester: pytest.Pytester, scope: str
) -> None:
    pytester.makepyfile(test_own=OWN_STACK.format(scope=scope))

    result = pytester.runpytest_subprocess("-p", "no:randomly", "-m", "not integration")

    result.assert_outcomes(passed=1, failed=1)
    assert "--- microstack" not in result.stdout.str()
    assert "ensure_healthy" not in result.stdout.str()


def test_with_a_declared_stack_a_projects_own_stack_fixture_is_left_alone(pytester: pytest.Pytester) -> None:
    """Declared, the plugin is on, but `stack` resolves to the project's: no marker, no check, no report."""
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\nmarkers =\n    integration: x\n")
    pytester.makepyfile(test_own=OWN_STACK.format(scope="function"))

    result = pytester.runpytest_subprocess("-m", "not integration")

    result.assert_outcomes(passed=1, failed=1)  # none deselected: nothing was marked
    assert "logs during" not in result.stdout.str()


def test_without_a_declaration_nothing_but_the_entry_module_is_imported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_modules="""

import sys


def test_loaded():
    ours = sorted(name for name in sys.modules if name.startswith("pytest_microstack"))
    # _aliases: the table and finder of the 1.0 import paths (the standard library only).
    assert ours == ["pytest_microstack", "pytest_microstack._aliases", "pytest_microstack.plugin"], ours
"""
    )

    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_without_a_declaration_the_fixtures_are_not_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures")

    assert "service_client" not in result.stdout.str()


def test_a_conftest_that_overrides_stack_settings_declares_the_stack(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from pytest_microstack import StackSettings

@pytest.fixture(scope="session")
def stack_settings(pytestconfig):
    return StackSettings(root=pytestconfig.rootpath, services=(), run_id="x")
"""
    )

    result = pytester.runpytest_subprocess("--fixtures")

    assert "service_client" in result.stdout.str()


def test_a_conftest_below_the_rootdir_declares_the_stack_for_its_tests_even_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    """The xdist controller never loads that conftest: each worker then names its own run."""
    sub = pytester.mkpydir("sub")
    (sub / "conftest.py").write_text(
        """
import pytest
from pytest_microstack import StackSettings

@pytest.fixture(scope="session")
def stack_settings(pytestconfig):
    return StackSettings(root=pytestconfig.rootpath, services=(), run_id="given")
"""
    )
    (sub / "test_sub.py").write_text(
        """
def test_sees_its_settings(stack_settings, pytestconfig):
    assert stack_settings.run_id == "given"
    state = pytestconfig.pluginmanager.get_plugin("microstack-run")
    assert state is not None and state.run_id
"""
    )

    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")

    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("conftest", "marked"),
    [
        pytest.param("def stack():\n    return 'own'\n", False, id="own-fixture"),
        pytest.param("def stack(stack):\n    return stack\n", True, id="override-built-on-ours"),
    ],
)
def test_only_a_stack_built_on_ours_marks_a_test_integration(
    pytester: pytest.Pytester, conftest: str, marked: bool
) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\n")
    pytester.makeconftest("import pytest\n\n@pytest.fixture(scope='session')\n" + conftest)
    pytester.makepyfile(test_marks="def test_x(stack):\n    pass\n")

    result = pytester.runpytest_subprocess("--collect-only", "-q", "-m", "integration")

    assert ("test_x" in result.stdout.str()) is marked


def test_declared_the_plugin_registers_the_markers_it_adds(pytester: pytest.Pytester) -> None:
    """A project with --strict-markers needn't register `integration` and `faults` itself."""
    pytester.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers\nstack_timeout = 30\n")
    pytester.makepyfile(test_uses="def test_broken(stack, faults):\n    pass\n")

    result = pytester.runpytest_subprocess("--collect-only", "-m", "integration and faults")

    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*1 test collected*"])


def test_inert_the_plugin_registers_no_marker(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")

    assert "integration:" not in result.stdout.str()

"""The documented install check succeeds in a fresh project, before any stack is declared (issue 23 §6).

`pytest --fixtures | grep service_client` printed nothing there (the plugin is
inert until a stack is declared), which reads as a broken install.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_microstack

INSTALL_CHECK = "`pytest -VV | grep microstack`"
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_install_check_names_the_plugin_and_its_version_in_a_fresh_project(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("-VV", "-p", "no:cacheprovider")

    assert result.ret == 0
    lines = [line for line in result.outlines + result.errlines if "microstack" in line]
    assert len(lines) == 1, lines
    version = pytest_microstack.__version__
    assert lines[0].strip().startswith(f"pytest-microstack-{version} at "), lines
    assert lines[0].rstrip().endswith("pytest_microstack/plugin.py"), lines


def test_the_package_readme_gives_that_check() -> None:
    assert INSTALL_CHECK in README.read_text()

"""Every place that names pytest-microstack's version names the same one (issue 23, 3).

docs/api.md still said 0.2.0 at 1.0.0. The version is written in
pytest_microstack.__version__ (pyproject.toml reads it from there); the CHANGELOG's
newest release and its links, and the install lines of both READMEs and of the
documentation site's tutorial repeat it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "pytest-microstack"
INIT = PLUGIN / "src/pytest_microstack/__init__.py"
SEMVER = r"\d+\.\d+\.\d+"
RELEASES = "https://github.com/microstack-dev/microstack/releases"


def version() -> str:
    [found] = re.findall(rf'^__version__ = "({SEMVER})"$', INIT.read_text(), re.M)
    return str(found)


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())

    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pytest_microstack.__version__"}


def test_the_changelog_s_newest_release_and_its_links_are_the_version() -> None:
    changelog = (PLUGIN / "CHANGELOG.md").read_text()
    releases = re.findall(rf"^## \[({SEMVER})\]", changelog, re.M)

    assert releases[0] == version()
    assert f"compare/v{version()}...HEAD" in changelog
    assert f"[{version()}]: {RELEASES}/tag/v{version()}" in changelog


@pytest.mark.parametrize(
    "readme",
    [ROOT / "README.md", PLUGIN / "README.md", ROOT / "docs" / "tutorial" / "index.md"],
    ids=["root", "plugin", "tutorial"],
)
def test_the_readmes_install_the_version(readme: Path) -> None:
    tags = re.findall(rf"@v({SEMVER})", readme.read_text())

    assert tags
    assert set(tags) == {version()}

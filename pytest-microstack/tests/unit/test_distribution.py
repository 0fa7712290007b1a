"""The built distributions: the wheel holds the package, py.typed and LICENSE, and nothing else;
the sdist also carries the tests, the CHANGELOG and the release guide (MANIFEST.in).

Built with setuptools' own PEP 517 backend in a child process, from a copy of the
project (the source tree gets no build/ or egg-info), without build isolation: no
network, the setuptools installed here (the build floor under nox -s minimums).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import pytest_microstack

PROJECT = Path(__file__).resolve().parents[2]
REPOSITORY = PROJECT.parent
PACKAGE = "pytest_microstack"
DIST_INFO = f"pytest_microstack-{pytest_microstack.__version__}.dist-info"
# What setuptools writes into every wheel's metadata folder.
METADATA_FILES = {"METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE"}
BUILD = "import setuptools.build_meta as backend, sys; print(getattr(backend, sys.argv[1])(sys.argv[2]))"
SUPPORTED_PYTHONS = ["3.11", "3.12", "3.13"]
# What builds and test runs leave in the project, never part of a distribution.
BUILD_LEFTOVERS = (
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".pytest_cache",
    "mutants",
    ".coverage",
    ".coverage.*",
)
# What pytest plugins' sdists conventionally carry besides the package (MANIFEST.in).
SDIST_EXTRAS = ("CHANGELOG.md", "RELEASING.md")


def _source_files(folder: Path) -> set[str]:
    """Every file under `folder`, relative to the project, build and test leftovers left out."""
    return {
        str(path.relative_to(PROJECT))
        for path in folder.rglob("*")
        if path.is_file() and not {"__pycache__", ".pytest_cache"} & set(path.parts) and path.suffix != ".pyc"
    }


def _build(kind: str, source: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", BUILD, f"build_{kind}", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"building the {kind} failed:\n{result.stdout}\n{result.stderr}"
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, built once for this module."""
    pytest.importorskip("setuptools", reason="building needs setuptools (pyproject.toml's build requirement)")
    source = tmp_path_factory.mktemp("project") / "pytest-microstack"
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
    out = tmp_path_factory.mktemp("dist")
    return {"sdist": _build("sdist", source, out), "wheel": _build("wheel", source, out)}


def test_the_license_at_the_root_and_in_the_package_are_the_same_text() -> None:
    assert (PROJECT / "LICENSE").read_bytes() == (REPOSITORY / "LICENSE").read_bytes()
    assert (REPOSITORY / "LICENSE").read_text().startswith("MIT License\n")


def test_the_wheel_holds_the_package_py_typed_and_license_and_nothing_else(built: dict[str, Path]) -> None:
    names = zipfile.ZipFile(built["wheel"]).namelist()

    outside = [name for name in names if not name.startswith((f"{PACKAGE}/", f"{DIST_INFO}/"))]
    assert outside == [], "the wheel installs something besides the package"
    assert {
        name.removeprefix(f"{DIST_INFO}/") for name in names if name.startswith(DIST_INFO)
    } == METADATA_FILES
    package_files = [name.removeprefix(f"{PACKAGE}/") for name in names if name.startswith(f"{PACKAGE}/")]
    assert "py.typed" in package_files
    assert [name for name in package_files if name != "py.typed" and not name.endswith(".py")] == []
    assert not [name for name in package_files if name.startswith("tests/") or "/tests/" in name]


def test_the_wheel_installs_every_module_of_the_source(built: dict[str, Path]) -> None:
    source = {str(path.relative_to(PROJECT / "src")) for path in (PROJECT / "src" / PACKAGE).rglob("*.py")}
    in_wheel = {name for name in zipfile.ZipFile(built["wheel"]).namelist() if name.endswith(".py")}

    assert in_wheel == source


def test_the_license_in_the_wheel_and_the_sdist_is_the_repository_s(built: dict[str, Path]) -> None:
    license_text = (REPOSITORY / "LICENSE").read_bytes()
    assert zipfile.ZipFile(built["wheel"]).read(f"{DIST_INFO}/licenses/LICENSE") == license_text
    with tarfile.open(built["sdist"]) as sdist:
        [member] = [m for m in sdist.getmembers() if m.name.endswith("/LICENSE")]
        extracted = sdist.extractfile(member)
        assert extracted is not None
        assert extracted.read() == license_text


def test_the_metadata_says_what_the_package_index_shows(built: dict[str, Path]) -> None:
    metadata = Parser().parsestr(zipfile.ZipFile(built["wheel"]).read(f"{DIST_INFO}/METADATA").decode())

    assert metadata["Version"] == pytest_microstack.__version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Requires-Python"] == ">=3.11"
    classifiers = metadata.get_all("Classifier") or []
    for version in SUPPORTED_PYTHONS:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Framework :: Pytest" in classifiers
    assert "Topic :: Software Development :: Testing" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Operating System :: ") for c in classifiers)
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert {"Source", "Changelog", "Issues"} <= set(urls)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "## Quick start" in (metadata.get_payload() or "")


def test_every_dependency_has_a_floor(built: dict[str, Path]) -> None:
    metadata = Parser().parsestr(zipfile.ZipFile(built["wheel"]).read(f"{DIST_INFO}/METADATA").decode())
    requirements = metadata.get_all("Requires-Dist") or []

    assert requirements, "no dependencies in the metadata"
    assert [r for r in requirements if not re.search(r">=\d", r)] == []


def test_the_version_is_written_in_one_place() -> None:
    pyproject = (PROJECT / "pyproject.toml").read_text()

    assert 'dynamic = ["version"]' in pyproject
    assert re.search(r"^version\s*=\s*\"", pyproject, re.MULTILINE) is None
    assert f"## [{pytest_microstack.__version__}]" in (PROJECT / "CHANGELOG.md").read_text()


def test_the_sdist_carries_the_tests_the_changelog_and_the_release_guide(built: dict[str, Path]) -> None:
    """Issue 23, 3: the sdist held the package alone, as pytest plugins' sdists conventionally don't."""
    with tarfile.open(built["sdist"]) as sdist:
        names = {member.name.split("/", 1)[1] for member in sdist.getmembers() if member.isfile()}

    assert _source_files(PROJECT / "tests") - names == set()
    assert set(SDIST_EXTRAS) - names == set()
    assert [name for name in names if name.endswith(".pyc") or "__pycache__" in name] == []

"""tools.release: the floors `nox -s minimums` pins, and which Python builds a fresh virtualenv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.release import floors, interpreter

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = """\
[build-system]
requires = ["setuptools>=77.0.1"]

[project]
dependencies = ["pytest>=8.0", "testcontainers>=4.12,<5"]

[project.optional-dependencies]
coverage = ["coverage>=7.10.4"]
"""


def test_each_floor_is_pinned_exactly_build_requirement_and_extras_included(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT)

    assert floors(pyproject) == [
        "pytest==8.0",
        "testcontainers==4.12",
        "coverage==7.10.4",
        "setuptools==77.0.1",
    ]


@pytest.mark.parametrize("requirement", ["requests", "requests>=2.31,>=2.32", "requests==2.31"])
def test_a_requirement_without_exactly_one_floor_is_refused_by_name(tmp_path: Path, requirement: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT.replace('"pytest>=8.0"', f'"{requirement}"'))

    with pytest.raises(ValueError, match="needs exactly one >= floor") as refused:
        floors(pyproject)
    assert requirement in str(refused.value)


def test_the_plugins_own_floors_are_all_written() -> None:
    pins = floors(ROOT / "pytest-microstack" / "pyproject.toml")

    assert "pytest==8.0" in pins
    assert all("==" in pin for pin in pins)


def _build(pyenv: Path, version: str, minor: str) -> Path:
    python = pyenv / "versions" / version / "bin" / f"python{minor}"
    python.parent.mkdir(parents=True)
    python.touch()
    return python


def test_the_newest_pyenv_build_is_taken_by_number_not_by_text(tmp_path: Path) -> None:
    _build(tmp_path, "3.12.9", "3.12")
    newest = _build(tmp_path, "3.12.10", "3.12")
    _build(tmp_path, "3.13.1", "3.13")

    assert interpreter("3.12", tmp_path) == str(newest)


def test_without_a_pyenv_build_the_path_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = tmp_path / "bin" / "python3.99"
    on_path.parent.mkdir()
    on_path.touch(mode=0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))

    assert interpreter("3.99", tmp_path / "no-pyenv") == str(on_path)
    assert interpreter("3.98", tmp_path / "no-pyenv") is None
    assert os.access(on_path, os.X_OK)

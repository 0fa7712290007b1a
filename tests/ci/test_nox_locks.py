"""Every lock a nox session installs goes in with --no-deps and `pip check`, by a pip the venv doesn't choose.

Issue 23, 1: nox's fresh virtualenvs (`tools.fresh_venv`: matrix-*, wheel, package,
minimums, latest) installed their locks with the pip their Python bundles, without
--no-deps: the resolution that broke scripts/bootstrap. They now have no pip of
their own; `pip` runs .venv's (requirements/dev.txt's pin) on them, and
`install_lock` is the one way a lock goes in.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.ci.wheel_folder import LOCKED, WheelFolder, installed, make_wheel_folder
from tools import fresh_venv

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 120  # seconds: a virtualenv and two tiny wheels take ~5 s here
# Where the repository runs pip: its sessions, benchmarks, tests, set-up and workflows.
PIP_CALLERS = [
    "noxfile.py",
    "tools/**/*.py",
    "bench/**/*.py",
    "tests/**/*.py",
    "scripts/*",
    ".ci/*",
    ".github/workflows/*",
]


class RunningSession:
    """Just enough of nox.Session for tools.fresh_venv: commands really run."""

    name = "lock-test"

    def run(self, *args: str, external: bool = False, env: Mapping[str, str] | None = None, **_: Any) -> None:
        subprocess.run(args, env={**os.environ, **dict(env or {})}, check=True, timeout=STEP_TIMEOUT)

    def error(self, message: str) -> NoReturn:
        raise AssertionError(message)


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WheelFolder:
    """The wheel folder, and pip in this process's environment (inherited by the session) seeing only it."""
    folder = make_wheel_folder(tmp_path / "index")
    for name in [name for name in os.environ if name.startswith("PIP_")]:
        monkeypatch.delenv(name)
    for name, value in folder.pip_env().items():
        if name.startswith("PIP_"):
            monkeypatch.setenv(name, value)
    return folder


def test_a_fresh_venv_gets_exactly_the_lock_and_no_pip_of_its_own(
    tmp_path: Path, wheels: WheelFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fresh_venv, "FRESH_VENVS", tmp_path / "nox")
    session: Any = RunningSession()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"

    python = fresh_venv.fresh_venv(session, version)
    fresh_venv.install_lock(session, python, wheels.lock)

    assert installed(python) == LOCKED, "no pip, no setuptools: only the lock"


def test_a_lock_missing_a_dependency_fails_the_session(
    tmp_path: Path, wheels: WheelFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fresh_venv, "FRESH_VENVS", tmp_path / "nox")
    session: Any = RunningSession()
    python = fresh_venv.fresh_venv(session, f"{sys.version_info.major}.{sys.version_info.minor}")

    with pytest.raises(subprocess.CalledProcessError) as failed:
        fresh_venv.install_lock(session, python, wheels.incomplete_lock)

    assert "check" in failed.value.cmd, "pip check refused it, after the install"


def _functions_using(tree: ast.Module, literal: str) -> set[str]:
    return {
        function.name
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Constant) and node.value == literal
    }


def test_the_sessions_install_locks_and_run_pip_in_one_place_each() -> None:
    sessions = ast.parse((ROOT / "noxfile.py").read_text())
    fresh = ast.parse((ROOT / "tools" / "fresh_venv.py").read_text())

    assert _functions_using(fresh, "--require-hashes") == {"install_lock"}
    assert _functions_using(fresh, "pip") == {"pip"}, "every pip command goes through pip()"
    assert _functions_using(sessions, "--require-hashes") == set()
    assert _functions_using(sessions, "pip") == set(), "the sessions call tools.fresh_venv.pip"


def _lines_installing_a_lock() -> Iterator[tuple[str, str]]:
    for pattern in PIP_CALLERS:
        for path in sorted(ROOT.glob(pattern)):
            if path.is_file() and path != Path(__file__):
                for line in path.read_text(errors="replace").splitlines():
                    if re.search(r"\binstall\b", line) and "--require-hashes" in line:
                        yield str(path.relative_to(ROOT)), line.strip()


def test_every_lock_installed_in_the_repository_goes_in_with_no_deps() -> None:
    found = list(_lines_installing_a_lock())

    assert found, "the scan finds scripts/bootstrap's install_lock at least"
    assert [(path, line) for path, line in found if "--no-deps" not in line] == []

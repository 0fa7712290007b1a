"""The plugin as others install it: a fresh virtualenv per session under .nox/, not .venv.

For the sessions that check the package (minimums, latest, the matrix, wheel, package):
each builds a virtualenv of its own under .nox/<session>/ (wiped first), installs into
it with .venv's pip (the version requirements/dev.txt locks), and runs the plugin's
tests there. See pytest-microstack/RELEASING.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

from tools.release import interpreter

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
FRESH_VENVS = ROOT / ".nox"
PLUGIN = "pytest-microstack"
# The plugin's test tooling in those virtualenvs (pytest-split and pytest-timeout:
# pytest.ini's addopts and ini keys name them; pytest-cov: the example project's --stack-coverage test).
TEST_TOOLS = ["pytest-httpserver", "pytest-xdist", "pytest-timeout", "pytest-split", "pytest-cov"]
PLUGIN_UNIT_TESTS = [f"{PLUGIN}/tests/unit", "-m", "not integration"]
EXAMPLE_PROJECT_TESTS = [f"{PLUGIN}/tests/engine/test_example_project.py", "-m", "integration"]


def fresh_venv(session: nox.Session, version: str, name: str = "") -> Path:
    """A new virtualenv under .nox/ (named for the session, or `name`), made by Python `version`;
    returns its python.

    Made without pip (nor the setuptools some Pythons seed): whatever pip that Python
    bundles never runs. `pip` installs into it with .venv's pip, requirements/dev.txt's pin.
    """
    found = interpreter(version, Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")))
    if found is None:
        session.error(
            f"no Python {version}: install it (pyenv install {version}) or put python{version} on PATH"
        )
    folder = FRESH_VENVS / (name or session.name)
    shutil.rmtree(folder, ignore_errors=True)
    session.run(found, "-m", "venv", "--without-pip", str(folder), external=True)
    return folder / "bin" / "python"


def pip(session: nox.Session, python: Path, *args: str) -> None:
    """pip from .venv (the version requirements/dev.txt locks), acting on `python`'s environment."""
    session.run(str(VENV_PYTHON), "-m", "pip", "--python", str(python), *args, external=True)


def install_lock(session: nox.Session, python: Path, lock: Path) -> None:
    """Exactly the hash lock `lock` into `python`'s environment, then `pip check`.

    --no-deps: the lock lists every package, so pip resolves nothing; resolving would
    let an old pip match an extra (coverage[toml]>=7.10.6) to the newest release and
    refuse it in hash mode (issue 23). `pip check` proves the lock complete. The same
    step as scripts/bootstrap's install_lock.
    """
    pip(session, python, "install", "-q", "--no-deps", "--require-hashes", "-r", str(lock))
    pip(session, python, "check")


def plugin_tests(session: nox.Session, python: Path, *, engine: bool) -> None:
    """The plugin's unit tests, then (with `engine`) its example project against the engine."""
    pip(session, python, "list", "--format=freeze")
    common = ["-m", "pytest", "-p", "no:cacheprovider"]
    session.run(str(python), *common, *PLUGIN_UNIT_TESTS, *session.posargs, external=True)
    if engine:
        session.run(str(python), *common, *EXAMPLE_PROJECT_TESTS, *session.posargs, external=True)

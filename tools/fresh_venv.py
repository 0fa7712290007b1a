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


def floors_venv(session: nox.Session, version: str, pyproject: Path) -> Path:
    """A fresh virtualenv with every dependency the plugin declares at its `>=` floor, exactly
    (setuptools for the build too, with no build isolation to replace it); returns its python."""
    from tools.release import floors

    python = fresh_venv(session, version)
    pins = floors(pyproject)
    constraints = python.parents[1] / "floors.txt"
    constraints.write_text("\n".join(pins) + "\n")
    session.log("floors: " + ", ".join(pins))
    install = ["install", "-q", "-c", str(constraints)]
    pip(session, python, *install, "setuptools")
    pip(session, python, *install, "--no-build-isolation", f"./{PLUGIN}[coverage]", *TEST_TOOLS)
    pip(session, python, "check")
    return python


def latest_venv(session: nox.Session, version: str) -> Path:
    """A fresh virtualenv with the newest release of every dependency (setuptools too: the unit
    tests build the wheel; the [coverage] extra: they import coverage.py); returns its python."""
    python = fresh_venv(session, version)
    newest = ["--upgrade", "--upgrade-strategy", "eager", f"./{PLUGIN}[coverage]", "setuptools", *TEST_TOOLS]
    pip(session, python, "install", "-q", *newest)
    pip(session, python, "check")
    return python


def matrix_venv(session: nox.Session, version: str, pytest_major: str) -> Path:
    """A fresh virtualenv from requirements/matrix-pytestN.txt with the plugin; returns its python."""
    python = fresh_venv(session, version)
    install_lock(session, python, ROOT / "requirements" / f"matrix-pytest{pytest_major}.txt")
    pip(session, python, "install", "-q", "--no-deps", "--no-build-isolation", f"./{PLUGIN}")
    pip(session, python, "check")
    return python

"""scripts/bootstrap's virtualenv step installs exactly the lock, whatever pip and whatever the index holds.

Issue 23, 1: `.ci/run` failed on a fresh clone once coverage 7.18.0 was published:
the pip that `python3 -m venv` gives (before 23.3) resolved pytest-cov's
`coverage[toml]>=7.10.6` against the newest release and refused it in hash mode.
Hermetic: a wheel folder built here (tests/ci/wheel_folder.py) stands in for the
index, with a newer release of a locked package in it; pip sees nothing else.
Both tests failed on the former step (hash mode, `pip install -r LOCK`
without --no-deps) with "In --require-hashes mode, all requirements must have
their versions pinned with ==. These do not: fakecov[toml]>=1.0".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.ci.platform_pip import EXTRAS_FIXED, oldest_platform_pip
from tests.ci.wheel_folder import LOCKED, WheelFolder, installed, make_wheel_folder

BOOTSTRAP = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap"
# Creating a virtualenv with its pip and installing two tiny wheels takes ~5 s on
# this 2-core machine; 120 s leaves room for a machine under full load.
STEP_TIMEOUT = 120
SEEDED = {"pip", "setuptools"}  # what `python3 -m venv` puts in on its own, not the lock


def bash(function_call: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Source the script, then run one of its functions in `cwd`."""
    script = f'source "{BOOTSTRAP}"; cd "{cwd}"; {function_call}'
    command = ["bash", "-c", script]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)


@pytest.fixture
def wheels(tmp_path: Path) -> WheelFolder:
    return make_wheel_folder(tmp_path / "index")


def locked_packages(python: Path) -> dict[str, str]:
    return {name: version for name, version in installed(python).items() if name not in SEEDED}


def venv_with_pip(folder: Path, pip_wheel: Path, env: dict[str, str]) -> Path:
    """A virtualenv whose pip is the one in `pip_wheel`, as that platform's `python3 -m venv` leaves it."""
    make = [sys.executable, "-m", "venv", "--without-pip", str(folder)]
    subprocess.run(make, check=True, timeout=STEP_TIMEOUT)
    python = folder / "bin" / "python"
    # A pip wheel runs from the archive itself: it installs itself, offline.
    seed = [str(python), f"{pip_wheel}/pip", "install", "-q", "--no-deps", "--no-index", str(pip_wheel)]
    subprocess.run(seed, env=env, check=True, timeout=STEP_TIMEOUT)
    return python


def test_the_venv_step_installs_the_lock_not_what_was_published_since(
    tmp_path: Path, wheels: WheelFolder
) -> None:
    """ensure_venv as bootstrap runs it (`python3 -m venv`, this machine's pip), then again: nothing to do."""
    checkout = tmp_path / "checkout"
    (checkout / "requirements").mkdir(parents=True)
    (checkout / "requirements/dev.txt").write_text(wheels.lock.read_text())
    (checkout / "requirements/local.txt").write_text("# no local packages in this checkout\n")

    first = bash("ensure_venv", checkout, wheels.pip_env())

    assert first.returncode == 0, first.stderr
    assert locked_packages(checkout / ".venv/bin/python") == LOCKED
    again = bash("ensure_venv", checkout, wheels.pip_env())
    assert (again.returncode, again.stderr) == (0, ""), "idempotent: the lock is unchanged, nothing runs"


def test_the_oldest_platform_pip_installs_the_lock_not_what_was_published_since(
    tmp_path: Path, wheels: WheelFolder
) -> None:
    """The venv step with Ubuntu 22.04's / Debian 12's pip (see tests/ci/platform_pip.py for which wheel)."""
    pip_wheel = oldest_platform_pip()
    python = venv_with_pip(tmp_path / "venv", pip_wheel, wheels.pip_env())
    pip_version = Version(installed(python)["pip"])
    assert pip_version == Version(pip_wheel.name.split("-")[1])
    assert pip_version < EXTRAS_FIXED, "a pip the bug bites, else this test proves nothing"

    result = bash(f'install_lock "{tmp_path / "venv"}" "{wheels.lock}"', tmp_path, wheels.pip_env())

    assert result.returncode == 0, result.stderr
    assert locked_packages(python) == LOCKED


def test_a_lock_missing_a_dependency_is_refused(tmp_path: Path, wheels: WheelFolder) -> None:
    """--no-deps installs what the lock lists and no more: `pip check` is what catches a gap."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=STEP_TIMEOUT)

    call = f'install_lock "{tmp_path / "venv"}" "{wheels.incomplete_lock}"'
    result = bash(call, tmp_path, wheels.pip_env())

    assert result.returncode != 0
    assert "fakecov-plugin 1.0 requires fakecov, which is not installed" in result.stderr

"""The layering contracts (pyproject.toml's `[tool.importlinter]`) hold, and they can fail.

`nox -s lint` runs `lint-imports` on the package. This is a check of the repository's tooling
(import-linter is in the dev lock only), so it lives here, not in the plugin's own tests that
the matrix and the installed wheel run. Here the same contracts run
on a copy of the package with one import planted: an import that runs back up,
a circle inside a room, pytest in a plain module. Each must break its contract
(an import running up usually breaks more than one: it makes a circle too),
naming the import, while the untouched copy keeps all three: a contract that
can't fail checks nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "pytest-microstack"
PACKAGE = PLUGIN / "src" / "pytest_microstack"  # the sources lint checks
LINT_IMPORTS = (
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the plugin's contracts, on the package found first under `root/src`."""
    environment = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [*LINT_IMPORTS, "--no-cache", "--no-logo", str(PLUGIN / "pyproject.toml")],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package, its own root for `lint-imports` (imported before the installed one)."""
    root = tmp_path_factory.mktemp("layering")
    shutil.copytree(PACKAGE, root / "src" / "pytest_microstack", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_copy_keeps_every_contract(copy: Path) -> None:
    result = lint_imports(copy)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout
    assert (
        str(copy)
        in subprocess.run(
            [sys.executable, "-c", "import pytest_microstack; print(pytest_microstack.__file__)"],
            env={**os.environ, "PYTHONPATH": str(copy / "src")},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    ), "the contracts ran on the installed package, not on the copy"


@pytest.mark.parametrize(
    ("module", "planted", "broken", "named"),
    [
        (
            "_engine/config_check.py",
            "from pytest_microstack._core import lifecycle",
            "Rooms import downwards only",
            "pytest_microstack._engine.config_check -> pytest_microstack._core.lifecycle",
        ),
        (
            "_errors.py",
            "    from pytest_microstack._session import fixtures",
            "Rooms import downwards only",
            "pytest_microstack._errors -> pytest_microstack._session.fixtures",
        ),
        (
            "_coverage/runtime.py",
            "from pytest_microstack._coverage import collect",
            "No circles",
            "- .runtime -> .collect (1 import)",
        ),
        (
            "_engine/engine.py",
            "import pytest",
            "plain modules, testable without pytest",
            "pytest_microstack._engine.engine -> pytest",
        ),
    ],
    ids=["runs-back-up", "lazy-and-far-up", "circle", "pytest-in-a-plain-module"],
)
def test_a_planted_import_breaks_its_contract(
    copy: Path, module: str, planted: str, broken: str, named: str
) -> None:
    path = copy / "src" / "pytest_microstack" / module
    original = path.read_text()
    # At the end of the module; an indented one sits in a function, imported only when it runs.
    line = f"\n\ndef _planted() -> None:\n{planted}\n" if planted.startswith(" ") else f"\n{planted}\n"
    path.write_text(original + line)
    try:
        result = lint_imports(copy)
    finally:
        path.write_text(original)

    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(rf"{re.escape(broken)}.* BROKEN$", result.stdout, re.MULTILINE), result.stdout
    assert named in result.stdout

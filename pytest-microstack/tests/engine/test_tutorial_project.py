"""The tutorial's example project (examples/tutorial/, shown on the docs site) is green as the page says."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPOSITORY_ROOT, base_image_line
from .test_example_project import assert_nothing_left, run_example

pytestmark = pytest.mark.integration
TUTORIAL = REPOSITORY_ROOT / "examples" / "tutorial"


def test_the_tutorial_project_passes_its_two_tests(
    pytester: pytest.Pytester, tmp_path: Path, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # the reader's laptop: removal by the detached reaper
    project = tmp_path / "tutorial"
    shutil.copytree(TUTORIAL, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (project / ".env").write_text(base_image_line() + "\n")  # this machine's local base image

    result = run_example(pytester, project)

    result.assert_outcomes(passed=2)
    assert_nothing_left(engine, project)

"""config_cache: two copies of one project never share a cached config (it holds absolute paths)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_microstack._engine.config_cache import cache_key


def test_a_copy_of_the_project_elsewhere_gets_its_own_key(tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    (first / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    second = tmp_path / "second"
    shutil.copytree(first, second)

    assert cache_key([first / "compose.yaml"], {}) != cache_key([second / "compose.yaml"], {})

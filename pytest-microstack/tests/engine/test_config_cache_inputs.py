"""Edit any input of `compose config`, and the next start sees the new structure (issue 23 §5).

Through the real `docker compose config` (no container is started): the
cache is filled, one input is edited, and the config read next shows the edit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._engine.compose import ProjectCompose
from pytest_microstack._engine.config_cache import load_config

pytestmark = pytest.mark.integration

COMPOSE = """\
include:
  - included/compose.yaml
services:
  api:
    extends:
      file: base.yaml
      service: base
    env_file:
      - api.env
      - path: optional.env
        required: false
  debugger:
    image: debugger
    profiles: [debug]
"""
INCLUDED = "services:\n  worker:\n    image: worker\n    env_file: worker.env\n"
BASE = "services:\n  base:\n    image: api:${BASE_TAG:-1}\n"

Edit = Callable[[Path, pytest.MonkeyPatch], object]
Seen = Callable[[dict[str, Any]], object]
# name: (the edit, what the config shows after it)
EDITS: dict[str, tuple[Edit, Seen]] = {
    "env_file": (
        lambda p, m: (p / "api.env").write_text("LEVEL=debug\n"),
        lambda c: c["services"]["api"]["environment"]["LEVEL"] == "debug",
    ),
    "optional-env_file-created": (
        lambda p, m: (p / "optional.env").write_text("EXTRA=1\n"),
        lambda c: c["services"]["api"]["environment"]["EXTRA"] == "1",
    ),
    "included-file": (
        lambda p, m: (p / "included" / "compose.yaml").write_text(INCLUDED + "    init: true\n"),
        lambda c: c["services"]["worker"]["init"] is True,
    ),
    "env_file-of-an-included-file": (
        lambda p, m: (p / "included" / "worker.env").write_text("MODE=two\n"),
        lambda c: c["services"]["worker"]["environment"]["MODE"] == "two",
    ),
    "extends-file": (
        lambda p, m: (p / "base.yaml").write_text(BASE.replace("api:", "api2:")),
        lambda c: c["services"]["api"]["image"] == "api2:1",
    ),
    "variable-of-an-extended-file": (
        lambda p, m: m.setenv("BASE_TAG", "2"),
        lambda c: c["services"]["api"]["image"] == "api:2",
    ),
    "dotenv-of-the-project": (
        lambda p, m: (p / ".env").write_text("BASE_TAG=3\n"),
        lambda c: c["services"]["api"]["image"] == "api:3",
    ),
    "COMPOSE_PROFILES": (
        lambda p, m: m.setenv("COMPOSE_PROFILES", "debug"),
        lambda c: "debugger" in c["services"],
    ),
    "COMPOSE_PROJECT_NAME": (
        lambda p, m: m.setenv("COMPOSE_PROJECT_NAME", "renamed"),
        lambda c: c["name"] == "renamed",
    ),
    "COMPOSE_ENV_FILES": (
        lambda p, m: m.setenv("COMPOSE_ENV_FILES", "other.env"),
        lambda c: c["services"]["api"]["image"] == "api:4",
    ),
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BASE_TAG", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_ENV_FILES", "COMPOSE_FILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "api.env").write_text("LEVEL=info\n")
    (tmp_path / "other.env").write_text("BASE_TAG=4\n")
    (tmp_path / "included").mkdir()
    (tmp_path / "included" / "compose.yaml").write_text(INCLUDED)
    (tmp_path / "included" / "worker.env").write_text("MODE=one\n")
    return tmp_path


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_input_is_seen_by_the_next_read(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, edit: str
) -> None:
    cache = tmp_path_factory.mktemp("cache")
    cache.chmod(0o700)
    files = [project / "compose.yaml"]

    def read() -> dict[str, Any]:
        compose = ProjectCompose(context=str(project), compose_file_name=["compose.yaml"], project_name="")
        return load_config(compose, files, cache)

    change, seen = EDITS[edit]
    assert not _shows(seen, read())

    change(project, monkeypatch)

    after = read()
    assert _shows(seen, after), after


def _shows(seen: Seen, config: dict[str, Any]) -> bool:
    try:
        return bool(seen(config))
    except KeyError:  # the key the edit adds is not there
        return False

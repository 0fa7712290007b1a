"""Every input of `compose config` is in the cache key (issue 23 §5): edit any, and the key changes.

The files a compose file pulls in (include, extends, env_file) are followed
recursively; COMPOSE_* variables and the variables of every file read count.
Where the inputs can't be known without compose, there is no key (no cache).
tests/engine/test_config_cache_inputs.py checks the same edits through the real
`docker compose config`: the new structure is seen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_microstack._engine.config_cache import cache_key, load_config

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
"""
INCLUDED = "services:\n  worker:\n    image: worker\n    env_file: worker.env\n"
BASE = "services:\n  base:\n    image: api:${BASE_TAG:-1}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BASE_TAG", "FROM_ENV_FILE", "FROM_INCLUDED", "COMPOSE_ENV_FILES"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "api.env").write_text("LEVEL=${FROM_ENV_FILE:-info}\n")
    (tmp_path / "included").mkdir()
    (tmp_path / "included" / "compose.yaml").write_text(INCLUDED)
    (tmp_path / "included" / "worker.env").write_text("MODE=one\n")
    return tmp_path


Edit = Callable[[Path, pytest.MonkeyPatch], object]
EDITS: dict[str, Edit] = {
    "env_file": lambda p, m: (p / "api.env").write_text("LEVEL=debug\n"),
    "optional-env_file-created": lambda p, m: (p / "optional.env").write_text("X=1\n"),
    "included-file": lambda p, m: (p / "included" / "compose.yaml").write_text(INCLUDED + "    init: true\n"),
    "env_file-of-an-included-file": lambda p, m: (p / "included" / "worker.env").write_text("MODE=two\n"),
    "extends-file": lambda p, m: (p / "base.yaml").write_text(BASE.replace("api:", "api2:")),
    "variable-of-an-extended-file": lambda p, m: m.setenv("BASE_TAG", "2"),
    "variable-of-an-env_file": lambda p, m: m.setenv("FROM_ENV_FILE", "warning"),
    "dotenv-of-the-project": lambda p, m: (p / ".env").write_text("BASE_TAG=3\n"),
    "COMPOSE_PROFILES": lambda p, m: m.setenv("COMPOSE_PROFILES", "debug"),
    "COMPOSE_PROJECT_NAME": lambda p, m: m.setenv("COMPOSE_PROJECT_NAME", "other"),
    "COMPOSE_ENV_FILES": lambda p, m: m.setenv("COMPOSE_ENV_FILES", "api.env"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_editing_an_input_changes_the_key(project: Path, monkeypatch: pytest.MonkeyPatch, edit: str) -> None:
    files = [project / "compose.yaml"]
    before = cache_key(files, {})
    assert before is not None

    EDITS[edit](project, monkeypatch)

    assert cache_key(files, {}) not in (before, None)


def test_a_compose_variable_given_by_the_settings_counts_as_one_from_the_shell(project: Path) -> None:
    files = [project / "compose.yaml"]

    assert cache_key(files, {"COMPOSE_PROFILES": "debug"}) != cache_key(files, {})


def test_an_include_of_an_include_is_followed(project: Path) -> None:
    (project / "included" / "compose.yaml").write_text("include:\n  - deeper.yaml\n" + INCLUDED)
    (project / "included" / "deeper.yaml").write_text("services: {}\n")
    files = [project / "compose.yaml"]
    before = cache_key(files, {})

    (project / "included" / "deeper.yaml").write_text("services: {deep: {image: x}}\n")

    assert cache_key(files, {}) != before


def test_an_extended_file_of_any_name_is_followed_to_its_env_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    extends: {file: x.compose, service: b}")
    (tmp_path / "x.compose").write_text("services:\n  b:\n    image: b\n    env_file: common.env\n")
    (tmp_path / "common.env").write_text("A=1\n")
    files = [tmp_path / "compose.yaml"]
    before = cache_key(files, {})

    (tmp_path / "common.env").write_text("A=2\n")

    assert cache_key(files, {}) != before


@pytest.mark.parametrize(
    "compose",
    [
        "include:\n  - oci://registry.example/stack:1\n",
        "include:\n  - git@github.com:acme/stack.git\n",
        "services:\n  api:\n    env_file: ${ENV_NAME}.env\n",
        "services: [unclosed\n",
    ],
    ids=["remote-include", "git-include", "variable-in-a-path", "unparseable"],
)
def test_inputs_only_compose_can_resolve_mean_no_key(tmp_path: Path, compose: str) -> None:
    (tmp_path / "compose.yaml").write_text(compose)

    assert cache_key([tmp_path / "compose.yaml"], {}) is None


class CountingCompose:
    """The part of ProjectCompose that load_config uses."""

    environment: dict[str, str] = {}  # noqa: RUF012 - read only

    def __init__(self) -> None:
        self.reads = 0

    def get_config(self) -> dict[str, object]:
        self.reads += 1
        return {"services": {}}


def test_without_a_key_compose_is_asked_every_time(tmp_path: Path, private_state: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    env_file: ${ENV_NAME}.env\n")
    compose = CountingCompose()

    load_config(cast(Any, compose), [tmp_path / "compose.yaml"])
    load_config(cast(Any, compose), [tmp_path / "compose.yaml"])

    assert compose.reads == 2
    assert list(private_state.iterdir()) == [], "nothing cached"

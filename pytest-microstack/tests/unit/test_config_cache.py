"""tests.harness.config_cache: `docker compose config`, cached by what can change it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from tests.harness.config_cache import cache_key, load_config

COMPOSE = """\
services:
  api:
    image: example/api:${IMAGE_TAG:-dev}
    environment:
      LEVEL: $LOG_LEVEL
"""


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE)
    (project / "extra.yaml").write_text("services: {}\n")
    return [project / "compose.yaml", project / "extra.yaml"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No variable the files use comes from the developer's shell; a private cache directory."""
    for name in ("IMAGE_TAG", "LOG_LEVEL", "UNRELATED"):
        monkeypatch.delenv(name, raising=False)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(cache_dir))
    return cache_dir


def test_key_is_stable(files: list[Path]) -> None:
    assert cache_key(files, {"IMAGE_TAG": "t"}) == cache_key(files, {"IMAGE_TAG": "t"})


@pytest.mark.parametrize(
    ("change", "environment_after"),
    [
        pytest.param(lambda f: f[0].write_text(COMPOSE + "# edit\n"), {}, id="first-file-edited"),
        pytest.param(lambda f: f[1].write_text("services: {a: {}}\n"), {}, id="second-file-edited"),
        pytest.param(lambda f: (f[0].parent / ".env").write_text("LOG_LEVEL=DEBUG\n"), {}, id="dotenv-added"),
        pytest.param(lambda f: None, {"IMAGE_TAG": "abc"}, id="braced-variable-set"),
        pytest.param(lambda f: None, {"LOG_LEVEL": "INFO"}, id="bare-variable-set"),
    ],
)
def test_key_changes_with_what_changes_the_config(
    files: list[Path], change: Any, environment_after: dict[str, str]
) -> None:
    before = cache_key(files, {})
    change(files)
    assert cache_key(files, environment_after) != before


def test_key_reads_variables_from_the_process_environment_too(
    files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = cache_key(files, {})
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    from_process = cache_key(files, {})
    assert from_process != before
    assert cache_key(files, {"LOG_LEVEL": "DEBUG"}) == from_process
    assert cache_key(files, {"LOG_LEVEL": "WARNING"}) != from_process, "the given environment wins"


def test_key_ignores_variables_the_files_do_not_use(
    files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = cache_key(files, {})
    monkeypatch.setenv("UNRELATED", "1")
    assert cache_key(files, {"UNRELATED": "2", "USER_SERVICE_SECRET_KEY": "s"}) == before


def test_key_ignores_a_dotenv_that_is_not_beside_the_first_file(files: list[Path], tmp_path: Path) -> None:
    before = cache_key(files, {})
    (tmp_path / ".env").write_text("LOG_LEVEL=DEBUG\n")
    assert cache_key(files, {}) == before


@dataclass
class CountingCompose:
    """The part of ProjectCompose that load_config uses."""

    environment: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=lambda: {"services": {"api": {"image": "x"}}})
    reads: int = 0

    def get_config(self) -> dict[str, Any]:
        self.reads += 1
        return self.config


def test_config_is_asked_once_then_served_from_the_cache(files: list[Path], clean_environment: Path) -> None:
    compose, later = CountingCompose(), CountingCompose(config={"services": {}})

    first = load_config(cast(Any, compose), files)
    second = load_config(cast(Any, later), files)

    assert first == second == compose.config
    assert (compose.reads, later.reads) == (1, 0)
    assert [p.suffix for p in clean_environment.iterdir()] == [".json"], "no partial file left behind"


def test_a_change_is_a_cache_miss(files: list[Path]) -> None:
    load_config(cast(Any, CountingCompose()), files)
    files[1].write_text("services: {other: {}}\n")
    compose = CountingCompose(config={"services": {"other": {}}})

    assert load_config(cast(Any, compose), files) == {"services": {"other": {}}}
    assert compose.reads == 1


def test_the_environment_of_the_compose_is_part_of_the_key(files: list[Path]) -> None:
    load_config(cast(Any, CountingCompose(environment={"LOG_LEVEL": "INFO"})), files)
    compose = CountingCompose(environment={"LOG_LEVEL": "DEBUG"})

    load_config(cast(Any, compose), files)

    assert compose.reads == 1


@pytest.mark.parametrize("content", ["", "{not json", '{"services": '], ids=["empty", "garbage", "truncated"])
def test_an_unreadable_cache_entry_is_replaced(
    files: list[Path], clean_environment: Path, content: str
) -> None:
    load_config(cast(Any, CountingCompose()), files)
    [entry] = clean_environment.iterdir()
    entry.write_text(content)
    compose = CountingCompose()

    assert load_config(cast(Any, compose), files) == compose.config
    assert compose.reads == 1
    later = CountingCompose()
    assert load_config(cast(Any, later), files) == compose.config
    assert later.reads == 0, "the rewritten entry is used"

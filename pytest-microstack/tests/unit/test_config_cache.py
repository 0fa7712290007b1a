"""pytest_microstack._engine.config_cache: `docker compose config`, cached by what can change it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from pytest_microstack._engine.config_cache import cache_key, load_config
from pytest_microstack._errors import UnsafeStateDirError

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
def clean_environment(monkeypatch: pytest.MonkeyPatch, private_state: Path) -> Path:
    """No variable the files use comes from the developer's shell; the cache is the test's state folder."""
    for name in ("IMAGE_TAG", "LOG_LEVEL", "UNRELATED"):
        monkeypatch.delenv(name, raising=False)
    return private_state


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


def test_an_explicit_cache_dir_is_used_instead_of_the_state_folder(
    files: list[Path], clean_environment: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "elsewhere"
    cache_dir.mkdir(mode=0o700)

    load_config(cast(Any, CountingCompose()), files, cache_dir)

    assert [p.suffix for p in cache_dir.iterdir()] == [".json"]
    assert list(clean_environment.iterdir()) == []


PLANTED = {"services": {"api": {"image": "attacker/miner", "privileged": True}}}


def plant(folder: Path, files: list[Path]) -> Path:
    """A cache entry written by someone else, where the next run will look for it."""
    entry = folder / f"config-{cache_key(files, {})}.json"
    entry.write_text(json.dumps(PLANTED))
    entry.chmod(0o600)
    return entry


@pytest.mark.parametrize(
    ("make_unsafe", "problem"),
    [
        pytest.param(
            lambda entry: os.chown(entry, 4242, -1),
            "owned by uid 4242",
            id="another-owner",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root"),
        ),
        pytest.param(lambda entry: entry.chmod(0o620), "open to other users", id="group-writable"),
        pytest.param(lambda entry: entry.chmod(0o602), "open to other users", id="other-writable"),
    ],
)
def test_a_planted_cache_entry_is_refused_not_trusted(
    files: list[Path], clean_environment: Path, make_unsafe: Any, problem: str
) -> None:
    entry = plant(clean_environment, files)
    make_unsafe(entry)
    compose = CountingCompose()

    with pytest.raises(UnsafeStateDirError, match=problem) as caught:
        load_config(cast(Any, compose), files)

    assert str(entry) in str(caught.value)
    assert compose.reads == 0


def test_a_symlinked_cache_entry_is_refused(
    files: list[Path], clean_environment: Path, tmp_path: Path
) -> None:
    target = plant(tmp_path, files)
    (clean_environment / target.name).symlink_to(target)

    with pytest.raises(UnsafeStateDirError, match="symlinks are refused"):
        load_config(cast(Any, CountingCompose()), files)


def test_a_cache_folder_owned_by_another_user_is_refused(
    files: list[Path], clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "getuid", lambda: os.stat(clean_environment).st_uid + 1)

    with pytest.raises(UnsafeStateDirError, match="not by this user"):
        load_config(cast(Any, CountingCompose()), files)

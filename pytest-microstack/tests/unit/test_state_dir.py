"""pytest_microstack._state_dir: a private per-user folder, refused when anyone else could plant a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pytest_microstack._errors import UnsafeStateDirError
from pytest_microstack._state_dir import (
    APP_NAME,
    ENV_OVERRIDE,
    check_private,
    default_location,
    read_private,
    state_dir,
    write_private,
)

OTHER_UID = 4242
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def location(tmp_path: Path) -> Path:
    return tmp_path / "cache" / APP_NAME


# --- where ---------------------------------------------------------------------------------------


def test_the_environment_variable_names_the_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_OVERRIDE, str(tmp_path / "mine"))
    assert default_location() == tmp_path / "mine"


def test_else_the_xdg_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_OVERRIDE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_location() == tmp_path / "xdg" / APP_NAME


def test_else_the_home_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_OVERRIDE)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_location() == tmp_path / ".cache" / APP_NAME


def test_state_dir_without_a_location_uses_the_environment(private_state: Path) -> None:
    assert state_dir() == private_state


# --- the folder ------------------------------------------------------------------------------------


def test_state_dir_creates_the_folder_private(location: Path) -> None:
    assert state_dir(location) == location
    assert location.is_dir()
    assert mode(location) == 0o700
    assert state_dir(location) == location, "an existing private folder is fine"


def test_the_mode_does_not_depend_on_the_umask(location: Path) -> None:
    previous = os.umask(0)
    try:
        state_dir(location)
    finally:
        os.umask(previous)
    assert mode(location) == 0o700


@pytest.mark.parametrize("folder_mode", [0o770, 0o707, 0o755, 0o750, 0o701])
def test_a_folder_open_to_others_is_refused(location: Path, folder_mode: int) -> None:
    location.mkdir(parents=True)
    location.chmod(folder_mode)

    with pytest.raises(UnsafeStateDirError, match=f"{location}: mode {folder_mode:o} is open to other users"):
        state_dir(location)


@as_root
def test_a_folder_owned_by_another_user_is_refused(location: Path) -> None:
    location.mkdir(parents=True, mode=0o700)
    os.chown(location, OTHER_UID, -1)

    with pytest.raises(UnsafeStateDirError, match=f"owned by uid {OTHER_UID}, not by this user"):
        state_dir(location)


def test_a_folder_owned_by_another_user_is_refused_seen_from_that_user(
    location: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir(location)
    monkeypatch.setattr(os, "getuid", lambda: location.stat().st_uid + 1)

    with pytest.raises(UnsafeStateDirError, match="not by this user"):
        state_dir(location)


def test_a_symlinked_folder_is_refused(location: Path, tmp_path: Path) -> None:
    real = tmp_path / "somewhere-else"
    real.mkdir(mode=0o700)
    location.parent.mkdir(parents=True)
    location.symlink_to(real)

    with pytest.raises(UnsafeStateDirError, match="expected a directory \\(symlinks are refused\\)"):
        state_dir(location)


def test_a_file_where_the_folder_should_be_is_refused(location: Path) -> None:
    location.parent.mkdir(parents=True)
    location.write_text("")

    with pytest.raises(UnsafeStateDirError, match="expected a directory"):
        state_dir(location)


# --- files in it -----------------------------------------------------------------------------------


def test_write_private_writes_0600_and_read_private_reads_it_back(location: Path) -> None:
    folder = state_dir(location)
    path = folder / "entry.json"

    write_private(path, b'{"a": 1}')
    write_private(path, b'{"a": 2}')

    assert read_private(path) == b'{"a": 2}'
    assert mode(path) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["entry.json"], "no partial file left behind"


def test_write_private_does_not_follow_a_planted_symlink(location: Path, tmp_path: Path) -> None:
    folder = state_dir(location)
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (folder / f".entry.json.{os.getpid()}.tmp").symlink_to(victim)

    with pytest.raises(OSError):  # noqa: PT011 - ELOOP, whatever the platform calls it
        write_private(folder / "entry.json", b"data")

    assert victim.read_text() == "untouched"
    assert not (folder / "entry.json").exists()


@pytest.mark.parametrize("file_mode", [0o620, 0o602, 0o666])
def test_a_file_writable_by_others_is_refused(location: Path, file_mode: int) -> None:
    path = state_dir(location) / "entry.json"
    path.write_text("{}")
    path.chmod(file_mode)

    with pytest.raises(UnsafeStateDirError, match="is open to other users"):
        read_private(path)


def test_a_file_readable_by_others_is_still_ours(location: Path) -> None:
    path = state_dir(location) / "entry.json"
    path.write_text("{}")
    path.chmod(0o644)

    assert read_private(path) == b"{}"


@as_root
def test_a_file_owned_by_another_user_is_refused(location: Path) -> None:
    path = state_dir(location) / "entry.json"
    path.write_text("{}")
    path.chmod(0o600)
    os.chown(path, OTHER_UID, -1)

    with pytest.raises(UnsafeStateDirError, match=f"{path}: owned by uid {OTHER_UID}"):
        read_private(path)


def test_a_symlinked_file_is_refused(location: Path, tmp_path: Path) -> None:
    target = tmp_path / "planted.json"
    target.write_text("{}")
    target.chmod(0o600)
    path = state_dir(location) / "entry.json"
    path.symlink_to(target)

    with pytest.raises(UnsafeStateDirError, match="expected a regular file \\(symlinks are refused\\)"):
        read_private(path)


def test_a_missing_file_is_file_not_found(location: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_private(state_dir(location) / "absent.json")


def test_check_private_accepts_our_own_private_folder(location: Path) -> None:
    check_private(state_dir(location), directory=True)

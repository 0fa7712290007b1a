"""A private per-user folder for the harness's caches, locks and kept-stack records.

The cached compose config is trusted (it decides what runs with the user's
Docker rights), so it must not live where another local user can plant a file:
the folder is created with mode 0700 and refused unless it is ours and private.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from pytest_microstack._errors import UnsafeStateDirError

APP_NAME = "pytest-microstack"
ENV_OVERRIDE = "MICROSTACK_STATE_DIR"


def default_location() -> Path:
    """$MICROSTACK_STATE_DIR, else $XDG_CACHE_HOME/pytest-microstack, else ~/.cache/pytest-microstack."""
    if os.environ.get(ENV_OVERRIDE):
        return Path(os.environ[ENV_OVERRIDE])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / APP_NAME


def check_private(path: Path, *, directory: bool) -> None:
    """Refuse a path that isn't ours, isn't what we expect, or is writable by others."""
    info = path.lstat()
    kind_ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        what = "a directory" if directory else "a regular file"
        raise UnsafeStateDirError(f"{path}: expected {what} (symlinks are refused)")
    if info.st_uid != os.getuid():
        raise UnsafeStateDirError(f"{path}: owned by uid {info.st_uid}, not by this user ({os.getuid()})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or (directory and info.st_mode & 0o077):
        raise UnsafeStateDirError(f"{path}: mode {stat.S_IMODE(info.st_mode):o} is open to other users")


def state_dir(location: Path | None = None) -> Path:
    """The private folder, created 0700 if missing, checked every time."""
    path = location or default_location()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    check_private(path, directory=True)
    return path


def read_private(path: Path) -> bytes:
    """A file's bytes, only if it is ours and not writable by others."""
    check_private(path, directory=False)
    return path.read_bytes()


def write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600: readers never see half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    partial.replace(path)

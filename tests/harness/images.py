"""Build the stack's images once per change, not once per run or per worker.

Images are tagged with a digest of everything that goes into them (the build
context and the base image's id). A tag that already exists is up to date, so a
warm run skips the build entirely; a file lock makes concurrent runs and xdist
workers wait for one build instead of each starting their own.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import docker.errors
from filelock import FileLock

from .compose import ProjectCompose

# What .dockerignore keeps out of the images, and so out of the digest.
IGNORED_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache"})
IGNORED_SUFFIXES = frozenset({".pyc", ".md"})


def source_digest(context: Path, base_image_id: str) -> str:
    """A short digest of the build context's files and the base image."""
    digest = hashlib.sha256(base_image_id.encode())
    for path in sorted(context.rglob("*")):
        relative = path.relative_to(context)
        if not path.is_file() or IGNORED_DIRS & set(relative.parts) or path.suffix in IGNORED_SUFFIXES:
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_id(engine: Any, name: str) -> str:
    """The id of a local image, or "" when it isn't there."""
    try:
        return str(engine.images.get(name).id)
    except docker.errors.ImageNotFound:
        return ""


def ensure_images(compose: ProjectCompose, engine: Any, images: Iterable[str]) -> bool:
    """Build the stack's images unless all exist already; returns True if it built."""
    wanted = list(images)
    lock_path = Path(tempfile.gettempdir()) / "microstack-image-build.lock"
    with FileLock(str(lock_path)):
        if all(image_id(engine, image) for image in wanted):
            return False
        compose.build_images()
        return True

"""tests.harness.images: content-addressed image tags, built only when missing."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from filelock import FileLock, Timeout

from tests.harness.images import ensure_images, image_id, source_digest
from tests.unit.fakes import FakeCompose, FakeEngine

BASE = "sha256:base-1"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context shaped like services/."""
    root = tmp_path / "services"
    files = {
        "user-service/Dockerfile": "FROM base\nCOPY . /app\n",
        "user-service/user_service/app.py": "print('users')\n",
        "servicekit/servicekit/__init__.py": "",
        ".dockerignore": "**/tests\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)


def test_digest_is_short_hex_and_stable(context: Path) -> None:
    first = source_digest(context, BASE)
    assert first == source_digest(context, BASE)
    assert len(first) == 16
    int(first, 16)


def test_digest_does_not_depend_on_where_the_context_is(context: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "services"
    for path in context.rglob("*"):
        if path.is_file():
            write(copy / path.relative_to(context), path.read_bytes())

    assert source_digest(copy, BASE) == source_digest(context, BASE)


Change = Callable[[Path], None]
CHANGES: list[Any] = [
    pytest.param(lambda c: write(c / "user-service/user_service/app.py", "print('changed')\n"), id="edit"),
    pytest.param(lambda c: write(c / "user-service/user_service/new.py", ""), id="new-empty-file"),
    pytest.param(lambda c: (c / "servicekit/servicekit/__init__.py").unlink(), id="delete"),
    pytest.param(
        lambda c: (c / "user-service/user_service/app.py").rename(c / "user-service/user_service/main.py"),
        id="rename",
    ),
    pytest.param(lambda c: write(c / "user-service/Dockerfile", "FROM other\n"), id="dockerfile"),
    pytest.param(lambda c: write(c / "wheels/pkg-1.0-py3-none-any.whl", b"\x00wheel"), id="binary-file"),
]


@pytest.mark.parametrize("change", CHANGES)
def test_digest_changes_with_the_context(context: Path, change: Change) -> None:
    before = source_digest(context, BASE)
    change(context)
    assert source_digest(context, BASE) != before


def test_digest_changes_with_the_base_image(context: Path) -> None:
    assert source_digest(context, BASE) != source_digest(context, "sha256:base-2")
    assert source_digest(context, BASE) != source_digest(context, "")


def test_moving_bytes_between_name_and_content_changes_the_digest(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write(one / "ab", "c")
    write(two / "a", "bc")
    assert source_digest(one, BASE) != source_digest(two, BASE)


IGNORED: list[Any] = [
    pytest.param("user-service/tests/test_app.py", id="service-tests-dir"),
    pytest.param("tests/conftest.py", id="top-level-tests-dir"),
    pytest.param("user-service/user_service/__pycache__/app.cpython-311.pyc", id="pycache"),
    pytest.param("user-service/user_service/stray.pyc", id="pyc-outside-pycache"),
    pytest.param("user-service/.pytest_cache/v/cache/lastfailed", id="pytest-cache"),
    pytest.param("user-service/README.md", id="markdown"),
]


@pytest.mark.parametrize("ignored", IGNORED)
def test_digest_ignores_what_dockerignore_keeps_out(context: Path, ignored: str) -> None:
    before = source_digest(context, BASE)
    write(context / ignored, "anything")
    assert source_digest(context, BASE) == before


def test_ignored_names_only_match_whole_path_parts(context: Path) -> None:
    before = source_digest(context, BASE)
    write(context / "user-service/user_service/tests_helpers.py", "x")
    assert source_digest(context, BASE) != before


def test_empty_directories_do_not_count(context: Path) -> None:
    before = source_digest(context, BASE)
    (context / "user-service/empty").mkdir()
    assert source_digest(context, BASE) == before


# --- image_id and ensure_images ----------------------------------------------------------------


@pytest.fixture
def private_lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the build lock away from real runs going on on this machine."""
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(lock_dir))
    return lock_dir


def test_image_id_is_empty_for_a_missing_image(engine: FakeEngine) -> None:
    engine.images.present["there:1"] = "sha256:abc"

    assert image_id(engine, "there:1") == "sha256:abc"
    assert image_id(engine, "missing:1") == ""


@pytest.mark.parametrize(
    ("present", "builds"),
    [
        pytest.param({"a:1", "b:1"}, False, id="all-present"),
        pytest.param({"a:1"}, True, id="one-missing"),
        pytest.param(set(), True, id="none-present"),
    ],
)
def test_ensure_images_builds_only_when_an_image_is_missing(
    engine: FakeEngine, private_lock_dir: Path, present: set[str], builds: bool
) -> None:
    engine.images.present.update({name: f"sha256:{name}" for name in present})
    compose = FakeCompose()

    assert ensure_images(cast(Any, compose), engine, iter(["a:1", "b:1"])) is builds

    assert compose.events == (["build"] if builds else [])


def test_ensure_images_builds_while_holding_the_machine_wide_lock(
    engine: FakeEngine, private_lock_dir: Path
) -> None:
    held: list[bool] = []

    class CheckingCompose(FakeCompose):
        def build_images(self) -> None:
            lock_files = list(private_lock_dir.glob("*.lock"))
            assert len(lock_files) == 1
            try:
                FileLock(str(lock_files[0]), timeout=0).acquire()
            except Timeout:
                held.append(True)
            else:
                held.append(False)

    ensure_images(cast(Any, CheckingCompose()), engine, ["missing:1"])

    assert held == [True]

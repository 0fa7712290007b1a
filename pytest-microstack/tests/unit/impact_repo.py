"""A real git repository with a recording, for --stack-impact's unit tests: made, edited, decided on."""

from __future__ import annotations

import subprocess
from collections.abc import Collection, Mapping
from pathlib import Path

from pytest_microstack._impact.recording import Part, Recording
from pytest_microstack._impact.selection import Selection, decide

RECORDING = ".microstack-impact.json"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit(root: Path, message: str = "base") -> None:
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", message)


def recorded_repository(root: Path, files: Mapping[str, str], part: Part, tests: Collection[str]) -> Path:
    """`files` committed in a new repository at `root`, and `part` recorded on that commit."""
    for path, text in {**files, ".gitignore": f"{RECORDING}\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git(root, "init", "-q")
    git(root, "add", ".")
    commit(root)
    head = git(root, "rev-parse", "HEAD").strip()
    Recording.build(part, commit=head, dirty=[], tests=tests, passed=tests, root=root).save(root / RECORDING)
    return root


def edit(root: Path, path: str, old: str, new: str) -> None:
    target = root / path
    text = target.read_text()
    assert text.count(old) == 1, old
    target.write_text(text.replace(old, new))


def decide_at(root: Path, test_modules: Collection[str], base: str = "HEAD") -> Selection:
    return decide(root, base, root / RECORDING, test_modules, ignore=[RECORDING])


def assert_selects_everything(selection: Selection, why: str) -> None:
    """Every test, and the last reason says why."""
    assert selection.everything, selection.reasons
    assert why in selection.reasons[-1]

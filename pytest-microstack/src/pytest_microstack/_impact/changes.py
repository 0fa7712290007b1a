"""The change from BASE to the working tree, as git sees it: files, and lines within them."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_microstack._errors import ImpactError

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class FileChange:
    """One changed path: deleted/added, and the lines changed on each side (BASE's and the tree's)."""

    path: str
    status: str  # M, A, D, T, or ? (untracked)
    old_lines: set[int] = field(default_factory=set)
    new_lines: set[int] = field(default_factory=set)


def git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ImpactError(f"--stack-impact: git {' '.join(args)} failed in {root}: {error}") from None
    if done.returncode != 0:
        raise ImpactError(f"--stack-impact: git {' '.join(args)} failed in {root}: {done.stderr.strip()}")
    return done.stdout


def toplevel(start: Path) -> Path:
    return Path(git(start, "rev-parse", "--show-toplevel").strip())


def resolve(root: Path, base: str) -> str:
    """The commit BASE names; a clear error when it names none."""
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").strip()
    except ImpactError:
        raise ImpactError(f"--stack-impact {base}: no such commit in {root}") from None


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def dirty(root: Path) -> list[str]:
    """Paths that differ from HEAD now (tracked and untracked, ignored ones left out)."""
    changed = git(root, "diff", "--name-only", "--no-renames", "HEAD", "--").splitlines()
    untracked = git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(changed) | set(untracked))


def changes(root: Path, base: str) -> dict[str, FileChange]:
    """Every path that differs between BASE and the working tree, with its changed lines."""
    found: dict[str, FileChange] = {}
    for line in git(root, "diff", "--name-status", "--no-renames", base, "--").splitlines():
        status, _, path = line.partition("\t")
        found[path] = FileChange(path, status[:1])
    for path in git(root, "ls-files", "--others", "--exclude-standard").splitlines():
        found.setdefault(path, FileChange(path, "?"))
    current: FileChange | None = None
    diff = git(root, "diff", "--unified=0", "--no-color", "--no-ext-diff", "--no-renames", base, "--", "*.py")
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:]
            name = target[2:] if target.startswith("b/") else None
            current = found.get(name) if name else None
        elif line.startswith("--- ") and line[4:].startswith("a/"):
            current = found.get(line[6:])
        elif current is not None and (match := HUNK.match(line)):
            old_start, old_count = int(match[1]), int(match[2] if match[2] is not None else 1)
            new_start, new_count = int(match[3]), int(match[4] if match[4] is not None else 1)
            current.old_lines.update(range(old_start, old_start + old_count))
            current.new_lines.update(range(new_start, new_start + new_count))
    return found


def base_text(root: Path, base: str, path: str) -> str:
    return git(root, "show", f"{base}:{path}")

"""A git worktree of BASE where the study edits and runs, so the developer's checkout is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = "integration and not load"


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@dataclass
class Run:
    """One pytest run: its exit code, the tests that failed, its wall time."""

    code: int
    failed: list[str]
    seconds: float


class Tree:
    """`.artifacts/impact/tree`: a detached worktree of BASE, with the checkout's .env and wheels."""

    def __init__(self, base: str, folder: Path) -> None:
        self.base = git("rev-parse", "--verify", f"{base}^{{commit}}").strip()
        self.folder = folder
        if folder.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
            shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", str(folder), self.base)
        # Copies (hard links), not symlinks: git ignores `services/wheels/` as a folder only,
        # and an untracked path would be a change that selects every test.
        if (ROOT / ".env").exists():
            shutil.copy2(ROOT / ".env", folder / ".env")
        if (ROOT / "services" / "wheels").is_dir():
            shutil.copytree(ROOT / "services" / "wheels", folder / "services" / "wheels", copy_function=_link)

    def write(self, path: str, text: str) -> None:
        (self.folder / path).write_text(text)

    def restore(self) -> None:
        """Every tracked file as BASE has it (edits only change tracked files)."""
        git("checkout", "--", ".", cwd=self.folder)

    def pytest(self, *args: str, workers: int = 2, timeout: float = 3600) -> Run:
        """The integration suite (or what `args` choose) at -n `workers`, from the tree."""
        report = self.folder / ".artifacts" / "impact-run.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "-m",
            INTEGRATION,
            "-n",
            str(workers),
            "--dist",
            "worksteal",
            "-p",
            "no:randomly",
            "-q",
            "-rfE",
            *args,
            "tests",
        ]
        began = time.monotonic()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(
            command, cwd=self.folder, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        seconds = time.monotonic() - began
        report.write_text(done.stdout + done.stderr)
        failed = [  # "FAILED <nodeid> - <message>": ids may hold spaces, the separator is " - "
            line.split(" ", 1)[1].split(" - ", 1)[0]
            for line in done.stdout.splitlines()
            if line.startswith(("FAILED ", "ERROR "))
        ]
        return Run(done.returncode, failed, seconds)

    def close(self) -> None:
        subprocess.run(["git", "worktree", "remove", "--force", str(self.folder)], cwd=ROOT, check=False)


def selected_tests(tree: Tree, *, impact: bool = True) -> list[str]:
    """What `--stack-impact BASE` selects in the tree now, or (`impact` false) the whole suite:
    collection only, no stack."""
    done = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:randomly",
            "-m",
            INTEGRATION,
            *(["--stack-impact", tree.base] if impact else []),
            "tests",
        ],
        cwd=tree.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in done.stdout.splitlines() if "::" in line and not line.startswith("stack-impact")]


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)

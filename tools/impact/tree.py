"""A git worktree of BASE where the study edits and runs, so the developer's checkout is never touched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = "integration and not load"
RECORDING = ".microstack-impact.json"
COUNTED = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@dataclass
class Run:
    """One pytest run: its exit code, the tests that failed, its wall time."""

    code: int
    failed: list[str]
    seconds: float
    ran: int = 0  # tests that ran (passed, failed, errors, skipped, xfailed, xpassed)


class Tree:
    """`.artifacts/impact/tree`: a detached worktree of BASE, with the checkout's .env and wheels."""

    def __init__(self, base: str, folder: Path) -> None:
        self.base = git("rev-parse", "--verify", f"{base}^{{commit}}").strip()
        self.folder = folder
        if self._at_base():
            self.restore()  # a tree an earlier session left: its recording may still serve
            return
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

    def _at_base(self) -> bool:
        if not (self.folder / ".git").is_file():
            return False
        try:
            return git("rev-parse", "HEAD", cwd=self.folder).strip() == self.base
        except subprocess.CalledProcessError:
            return False

    def recorded(self) -> bool:
        """Whether the tree holds a recording of BASE as it is (an earlier session's)."""
        path = self.folder / RECORDING
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        return bool(saved.get("commit") == self.base and not saved.get("dirty"))

    def write(self, path: str, text: str) -> None:
        (self.folder / path).write_text(text)

    def restore(self) -> None:
        """Every file as BASE has it: tracked ones checked out, files an edit added removed
        (ignored ones, the recording and the wheels, stay)."""
        git("checkout", "--", ".", cwd=self.folder)
        git("clean", "-fdq", "--", "services", "tests", cwd=self.folder)

    def pytest(
        self,
        *args: str,
        workers: int = 2,
        timeout: float = 3600,
        paths: tuple[str, ...] = ("tests",),
        env: dict[str, str] | None = None,
    ) -> Run:
        """The integration suite (or what `args` choose) at -n `workers`, from the tree.

        `paths`: the test paths or node ids to run (default: the whole suite).
        """
        report = self.folder / ".artifacts" / "impact-run.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "-m",
            INTEGRATION,
            *(["-n", str(workers), "--dist", "worksteal"] if workers else ["-p", "no:xdist"]),
            "-p",
            "no:randomly",
            "-q",
            "-rfE",
            *args,
            *paths,
        ]
        began = time.monotonic()
        environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        done = subprocess.run(
            command,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environ,
            check=False,
        )
        seconds = time.monotonic() - began
        report.write_text(done.stdout + done.stderr)
        failed = [  # "FAILED <nodeid> - <message>": ids may hold spaces, the separator is " - "
            line.split(" ", 1)[1].split(" - ", 1)[0]
            for line in done.stdout.splitlines()
            if line.startswith(("FAILED ", "ERROR "))
        ]
        summary = done.stdout.strip().splitlines()[-1:] or [""]
        ran = sum(int(count) for count, _ in COUNTED.findall(summary[0]))
        return Run(done.returncode, failed, seconds, ran)

    def close(self) -> None:
        """Remove the tree (a later session then records again: use it when done for good)."""
        subprocess.run(["git", "worktree", "remove", "--force", str(self.folder)], cwd=ROOT, check=False)


@dataclass
class Collected:
    """The tests a collection chose, and the seconds the selection itself took (None: no selection)."""

    tests: list[str]
    seconds: float | None
    reasons: list[str]  # the selection's own lines: why it chose what it chose


SELECTED = re.compile(r"stack-impact \S+: selected .*\(([0-9.]+) s\)")


def collect(
    tree: Tree, *, impact: bool = True, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Collected:
    """What `--stack-impact BASE` selects in the tree now, or (`impact` false) the whole suite,
    or what `extra` options select: collection only, no stack."""
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
            *extra,
            "tests",
        ],
        cwd=tree.folder,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode not in (0, 5):
        raise SystemExit(
            f"collecting in {tree.folder} failed (exit {done.returncode}):\n{done.stdout[-2000:]}"
        )
    lines = done.stdout.splitlines()
    tests = [line for line in lines if "::" in line and not line.startswith("stack-impact")]
    timed = [float(match[1]) for match in map(SELECTED.search, lines) if match]
    reasons = [line.split(": ", 1)[-1] for line in lines if line.startswith("stack-impact ")]
    return Collected(tests, timed[-1] if timed else None, reasons)


def selected_tests(tree: Tree, *, impact: bool = True) -> list[str]:
    """`collect`'s tests."""
    return collect(tree, impact=impact).tests


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)

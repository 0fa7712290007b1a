"""What the figures were measured on and at: engine, compose, machine, versions, commit, load."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .children import ROOT


def _out(*command: str) -> str:
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return ""


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: a busy machine shows here."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def commit() -> str:
    """The checked-out commit, and whether the work tree differs from it."""
    head = _out("git", "rev-parse", "--short=12", "HEAD")
    dirty = _out("git", "status", "--porcelain", "--untracked-files=no")
    return f"{head}{' (with uncommitted changes)' if dirty else ''}"


def machine() -> dict[str, str]:
    """The run's header: engine and compose versions, machine, versions, commit and date."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "docker_engine": _out("docker", "version", "--format", "{{.Server.Version}}"),
        "compose": _out("docker", "compose", "version", "--short"),
        "cpus": _out("nproc"),
        "cpu_model": _cpu_model(),
        "memory": _out("sh", "-c", "free -h | awk '/Mem:/ {print $2}'"),
        "os": _out("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pytest": _version("pytest"),
        "testcontainers": _version("testcontainers"),
        "docker_py": _version("docker"),
        "pytest_microstack": _version("pytest-microstack"),
        "load_average_at_start": load_average(),
        # Set in the caller's environment, these change what every child does (CI is set per figure).
        "environment": " ".join(
            f"{key}={os.environ[key]!r}"
            for key in ("CI", "PYTEST_ADDOPTS", "DOCKER_HOST")
            if key in os.environ
        ),
    }

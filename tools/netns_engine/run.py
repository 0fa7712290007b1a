"""Running the rig's commands: each failure says the command, its exit code and its output."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence


class RigError(RuntimeError):
    """A step of the rig failed: which command or wait, and what it said."""


def run(command: Sequence[str], *, stdin: bytes | None = None, timeout: float = 60.0) -> str:
    """Run `command`; its stdout, or RigError with the command, exit code and stderr."""
    try:
        result = subprocess.run(list(command), input=stdin, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise RigError(f"{command[0]} is not installed: {error}") from error
    except subprocess.TimeoutExpired as error:
        raise RigError(f"{' '.join(command)} did not end within {timeout:g} s") from error
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise RigError(f"{' '.join(command)} exited {result.returncode}: {stderr}")
    return result.stdout.decode(errors="replace")


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, last: Callable[[], str]) -> None:
    """Poll `check` every 0.1 s until it holds; RigError naming `what`, the deadline and `last()` else."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RigError(f"{what} within {timeout:g} s; last seen: {last()}")
        time.sleep(0.1)  # polling under the deadline above


def stop_process(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` s; returns once the process is gone."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

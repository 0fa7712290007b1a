"""Child processes of the benchmark, run from the repository root and timed from outside."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# Bounds on one child: a session that hangs fails the figure instead of the whole run.
SESSION_TIMEOUT = 300.0
OUTPUT_TAIL = 3000


class ChildFailed(RuntimeError):
    """A measured command exited non-zero: its command, exit code and the tail of its output."""

    def __init__(self, command: Sequence[str], code: int, output: str) -> None:
        super().__init__(f"{shown(command)} exited {code}:\n{output[-OUTPUT_TAIL:]}")


def shown(command: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The command as a reader would type it at the repository root (`python` is .venv/bin/python)."""
    words = ["python" if word == sys.executable else word for word in command]
    prefix = "".join(f"{key}={value} " for key, value in (env or {}).items())  # shown, not quoted
    return prefix + shlex.join(words)


def environment(*, ci: bool = False, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with `CI` unset (or set to true), plus `extra`.

    `CI` changes what the harness does at the end of a run, so every figure
    says which mode it ran in instead of inheriting whatever the caller had.
    """
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "true"
    env.update(extra or {})
    return env


def run(command: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 900.0) -> str:
    """Run a command to completion (output captured); its output, or ChildFailed."""
    result = subprocess.run(
        list(command),
        cwd=ROOT,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ChildFailed(command, result.returncode, result.stdout)
    return result.stdout


@dataclass(frozen=True)
class Finished:
    """A child's timings: wall seconds from spawn to exit, the exit as wall-clock time, its pid."""

    seconds: float
    exited_at: float
    pid: int
    output: str
    # time.time() when the child's output pipe reached EOF (only when run with pipe=True).
    output_closed_at: float | None = None


def timed(
    command: Sequence[str], env: Mapping[str, str], *, pipe: bool = False, timeout: float = SESSION_TIMEOUT
) -> Finished:
    """Run a child and time it from spawn to its exit (waitpid), not to its output's end.

    With a file as stdout (the default), nothing but the process's own exit is
    waited for, as a shell does. With pipe=True the output is a pipe, read on a
    thread, and the moment it closes is recorded too: anything the child leaves
    behind holding it (a detached process that inherited it) delays that, and a
    caller such as CI or `pytest | tee` waits for it.
    """
    if pipe:
        return _timed_with_pipe(command, env, timeout)
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen(list(command), cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        code = wait_or_dump(child, timeout)
        exited_at, seconds = time.time(), time.perf_counter() - started
        out.seek(0)
        output = out.read().decode(errors="replace")
    if code != 0:
        raise ChildFailed(command, code, output)
    return Finished(seconds, exited_at, child.pid, output)


def _timed_with_pipe(command: Sequence[str], env: Mapping[str, str], timeout: float) -> Finished:
    chunks: list[bytes] = []
    closed_at: list[float] = []

    started = time.perf_counter()
    child = subprocess.Popen(
        list(command), cwd=ROOT, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    stream = child.stdout
    assert stream is not None  # stdout=PIPE

    def drain() -> None:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            chunks.append(chunk)
        closed_at.append(time.time())

    reader = threading.Thread(target=drain, name="bench-output", daemon=True)
    reader.start()
    code = wait_or_dump(child, timeout)
    exited_at, seconds = time.time(), time.perf_counter() - started
    reader.join(timeout)
    output = b"".join(chunks).decode(errors="replace")
    if code != 0:
        raise ChildFailed(command, code, output)
    return Finished(seconds, exited_at, child.pid, output, closed_at[0] if closed_at else None)


#: How long a hung child gets to print its stacks after SIGABRT, before it is killed.
DUMP_SECONDS = 5.0


def wait_or_dump(child: subprocess.Popen[bytes], timeout: float) -> int:
    """The child's exit code; past `timeout`, SIGABRT, then kill, and TimeoutExpired.

    A child run with PYTHONFAULTHANDLER=1 prints every thread's stack on SIGABRT:
    a hang that can't be reproduced leaves in its output where it hung.
    """
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGABRT)  # our own child, past its bound
        try:
            child.wait(timeout=DUMP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise

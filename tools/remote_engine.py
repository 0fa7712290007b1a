"""The local engine reached as a remote one: socat forwarding a loopback TCP port to its socket.

`python -m tools.remote_engine [PYTEST ARGS]` is `nox -s remote_engine`:
DOCKER_HOST=tcp://127.0.0.1:PORT exercises the plugin's remote-engine paths (published
ports on the engine's host, no local socket) with the engine already here. Any local
user can reach the port meanwhile: a test machine's tool, never on a shared one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tools.artifacts import report_args
from tools.collect import INTEGRATION
from tools.pytest_args import paths_given

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENGINE_SOCKET = "/var/run/docker.sock"
ANSWER_TIMEOUT = 10.0  # seconds for socat to listen and the engine to answer through it
STOP_TIMEOUT = 5.0  # seconds for socat to end on SIGTERM before SIGKILL


class RemoteEngineError(RuntimeError):
    """socat is missing, or the engine did not answer through it: what, and socat's own words."""


def local_engine_socket(environ: Mapping[str, str]) -> str:
    """The engine's unix socket: DOCKER_HOST's when it names one, else Docker's default."""
    docker_host = environ.get("DOCKER_HOST", "")
    return docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else DEFAULT_ENGINE_SOCKET


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def engine_answers(url: str) -> bool:
    """Whether an engine at `url` answers `GET /_ping` with OK."""
    try:
        with urllib.request.urlopen(f"{url}/_ping", timeout=1) as response:
            return bool(response.read() == b"OK")
    except OSError:
        return False


@contextmanager
def engine_over_tcp(engine_socket: str, log: Callable[[str], None] = print) -> Iterator[str]:
    """socat on 127.0.0.1:<free port> to `engine_socket`; yields the DOCKER_HOST for it, stops socat after."""
    socat = shutil.which("socat")
    if socat is None:
        raise RemoteEngineError(
            "socat is not installed: apt-get install socat (Debian/Ubuntu), then run this again"
        )
    port = free_loopback_port()
    command = [socat, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{engine_socket}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not engine_answers(f"http://127.0.0.1:{port}"):
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)  # first: reading a live socat's stderr would wait for it to end
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RemoteEngineError(
                    f"the engine did not answer through socat on 127.0.0.1:{port}: {stderr.strip()}"
                )
            time.sleep(0.05)  # polling socat's port under the deadline above
        log(f"engine at tcp://127.0.0.1:{port} (socat pid {process.pid} -> {engine_socket})")
        yield f"tcp://127.0.0.1:{port}"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str]) -> int:
    """The integration suite through socat; `argv` as for `nox -s integration`. pytest's exit code."""
    try:
        with engine_over_tcp(local_engine_socket(os.environ)) as host:
            reports = report_args(ROOT / ".artifacts", "remote_engine", argv)
            paths = [] if paths_given(argv) else ["tests"]
            command = [sys.executable, "-m", "pytest", "-m", INTEGRATION, *reports, *paths, *argv]
            engine = {**os.environ, "DOCKER_HOST": host}
            return subprocess.run(command, env=engine, cwd=ROOT, check=False).returncode
    except RemoteEngineError as error:
        print(f"remote_engine: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

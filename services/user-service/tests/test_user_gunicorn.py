"""Under the real server: the body limit with chunked bodies, and slow clients (408, /health).

The Flask test client cannot send a chunked body the way gunicorn hands it on, and
the bug this guards against (werkzeug silently truncating a chunked body at the
limit) only shows with a real server. gunicorn runs on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servicekit import MAX_CONTENT_LENGTH
from user_helpers import SECRET
from user_service import SETTINGS

SETTING_NAMES = {setting.name for setting in SETTINGS}

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
# Booting is importing the app and forking one worker (well under a second here);
# the rest is margin for a loaded CI machine.
BOOT_DEADLINE_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 10.0
# Shorter than the default (10 s) to keep the tests quick; the worker reads it at boot.
READ_DEADLINE_SECONDS = 2
# A 408 comes within one poll tick (1 s) after the deadline; the rest is margin for load.
READ_DEADLINE_MARGIN_SECONDS = 1.0 + 2.0
# More slow clients than the server's threads (1 worker x 4 threads): all of them stalled before.
SLOW_CLIENTS = 16
# What attack (c) and Docker's healthcheck (timeout: 1s) allow /health.
HEALTH_TIMEOUT_SECONDS = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Module scope: gunicorn serving user-service on 127.0.0.1; yields its port."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name not in SETTING_NAMES},
        "SECRET_KEY": SECRET,
        "DATABASE_PATH": str(tmp_path / "users.db"),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_READ_DEADLINE_SECONDS": str(READ_DEADLINE_SECONDS),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + BOOT_DEADLINE_SECONDS
        while True:
            try:
                if _request(port, "GET", "/health", None)[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, f"gunicorn exited: {process.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"gunicorn not healthy within {BOOT_DEADLINE_SECONDS}s"
            time.sleep(0.05)  # poll interval while gunicorn boots
        yield port
    finally:
        process.terminate()
        process.wait(timeout=REQUEST_TIMEOUT_SECONDS)
        assert process.stderr is not None
        process.stderr.close()


def _request(port: int, method: str, path: str, chunks: Iterator[bytes] | None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        headers = {"Content-Type": "application/json"}
        if chunks is not None:
            headers["Transfer-Encoding"] = "chunked"
        conn.request(method, path, body=chunks, headers=headers, encode_chunked=chunks is not None)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


CREDENTIALS = b'{"username": "alice", "password": "s3cret-pass"}'


def test_chunked_body_over_the_limit_is_413(server: int) -> None:
    body = b'{"username": "' + b"a" * MAX_CONTENT_LENGTH + b'", "password": "s3cret-pass"}'
    status, data = _request(server, "POST", "/users", _chunks(body))
    assert status == 413
    assert "error" in json.loads(data)


def test_valid_json_padded_past_the_limit_is_413_not_accepted(server: int) -> None:
    status, _ = _request(server, "POST", "/users", _chunks(CREDENTIALS + b" " * MAX_CONTENT_LENGTH))
    assert status == 413
    # and the account was not created
    status, _ = _request(server, "POST", "/auth/token", _chunks(CREDENTIALS))
    assert status == 401


def test_chunked_body_within_the_limit_is_served(server: int) -> None:
    body = b'{"username": "bob", "password": "s3cret-pass"}' + b" " * (MAX_CONTENT_LENGTH // 2)
    status, data = _request(server, "POST", "/users", _chunks(body))
    assert (status, json.loads(data)["username"]) == (201, "bob")


@pytest.mark.parametrize(("threads", "ok"), [("3", False), ("4", True)], ids=["3-threads", "4-threads"])
def test_gunicorn_keeps_a_thread_that_never_hashes(threads: str, ok: bool) -> None:
    """Hashing may hold 3 threads (2 hashing, 1 waiting): gunicorn refuses to start with fewer than 4."""
    env = {**os.environ, "GUNICORN_THREADS": threads}
    code = f"import runpy; runpy.run_path({str(GUNICORN_CONF)!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode == 0) is ok, done.stderr[-2000:]
    if not ok:
        assert "GUNICORN_THREADS must be more than 3" in done.stderr


SLOW_HEAD = (
    b"POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(CREDENTIALS)
)


def _slow_socket(port: int, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_SECONDS)
    sock.sendall(first)
    return sock


def _read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes, or until timeout."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data


@pytest.mark.parametrize(
    "first",
    [pytest.param(SLOW_HEAD + CREDENTIALS[:5], id="slow-body"), pytest.param(SLOW_HEAD[:20], id="slow-head")],
)
def test_a_request_not_whole_by_the_deadline_gets_408_json(server: int, first: bytes) -> None:
    started = time.monotonic()
    with _slow_socket(server, first) as sock:
        answer = _read_response(sock, READ_DEADLINE_SECONDS + READ_DEADLINE_MARGIN_SECONDS)
    elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"Content-Type: application/json" in head
    assert "did not arrive within 2 seconds" in json.loads(body)["error"]
    assert READ_DEADLINE_SECONDS <= elapsed < READ_DEADLINE_SECONDS + READ_DEADLINE_MARGIN_SECONDS


def test_a_body_trickled_in_before_the_deadline_is_served(server: int) -> None:
    with _slow_socket(server, SLOW_HEAD) as sock:
        for start in range(0, len(CREDENTIALS), 16):
            time.sleep(0.1)  # the client's pace, not synchronisation: well within the deadline
            sock.sendall(CREDENTIALS[start : start + 16])
        answer = _read_response(sock, REQUEST_TIMEOUT_SECONDS)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]  # judged: alice has no account here


def test_expect_100_continue_is_answered_while_the_body_is_awaited(server: int) -> None:
    head = SLOW_HEAD.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with _slow_socket(server, head) as sock:
        sock.settimeout(REQUEST_TIMEOUT_SECONDS)
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(CREDENTIALS)
        assert b"HTTP/1.1 401 " in _read_response(sock, REQUEST_TIMEOUT_SECONDS)


def test_health_answers_while_more_slow_clients_than_threads_are_connected(server: int) -> None:
    """Before, SLOW_CLIENTS trickling bodies held every thread: /health answered nothing."""
    slow = [_slow_socket(server, SLOW_HEAD + b"{") for _ in range(SLOW_CLIENTS)]
    try:
        for _ in range(5):
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", server, timeout=HEALTH_TIMEOUT_SECONDS)
            try:
                conn.request("GET", "/health")
                assert conn.getresponse().status == 200
            finally:
                conn.close()
            assert time.monotonic() - started < HEALTH_TIMEOUT_SECONDS
    finally:
        for sock in slow:
            sock.close()

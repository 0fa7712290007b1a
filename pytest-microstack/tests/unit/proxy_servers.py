"""In-process servers on 127.0.0.1 for the recording proxy's tests, and the proxy itself on a thread."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_microstack._exchanges.proxy import Proxy, serve

DEADLINE = 5.0


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with what it received: method, path and body (JSON), keep-alive."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length) if length else b""
        body = json.dumps({"method": self.command, "path": self.path, "body": received.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """An HTTP/1.1 server that echoes requests; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def scripted_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server that runs `handle(connection)` on a thread per connection; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=_run, args=(handle, connection), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(DEADLINE)
        listener.close()


def _run(handle: Callable[[socket.socket], None], connection: socket.socket) -> None:
    with connection, contextlib.suppress(OSError):
        handle(connection)


def read_until(sock: socket.socket, marker: bytes, deadline: float = DEADLINE) -> bytes:
    """Bytes from `sock` up to and including `marker` (or what came before the peer closed)."""
    sock.settimeout(deadline)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_all(sock: socket.socket, deadline: float = DEADLINE) -> bytes:
    """Everything until the peer closes."""
    sock.settimeout(deadline)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


class RunningProxy:
    """The proxy serving on its own event loop thread, with its ports and its recorder."""

    def __init__(self, proxy: Proxy, port: int, control: int) -> None:
        self.proxy = proxy
        self.port = port
        self.control = control

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE)

    def client(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE)

    def call_control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.control, timeout=DEADLINE)
        try:
            payload = None if body is None else json.dumps(body).encode()
            connection.request(method, path, body=payload)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def records(self, after: int = 0) -> list[dict[str, Any]]:
        status, answer = self.call_control("GET", f"/records?after={after}")
        assert status == 200
        return list(answer["records"])

    def finished(self, count: int) -> list[dict[str, Any]]:
        """The finished records, once there are `count` of them (polled with a deadline)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            done = [record for record in self.records() if not record.get("pending")]
            if len(done) >= count or time.monotonic() > deadline:
                return done
            time.sleep(0.01)

    def set_rules(self, *rules: dict[str, Any]) -> None:
        status, answer = self.call_control("PUT", "/rules", list(rules))
        assert status == 200, answer


@contextlib.contextmanager
def running_proxy(upstream_port: int, mode: str = "http", service: str = "svc") -> Iterator[RunningProxy]:
    """The proxy in front of 127.0.0.1:`upstream_port`, on random ports, stopped afterwards."""
    upstream = ("127.0.0.1", upstream_port)
    args = argparse.Namespace(
        service=service, listen=0, control=0, mode=mode, host="127.0.0.1", upstream_address=upstream
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    found: list[RunningProxy] = []

    def ready(proxy: Proxy, port: int, control: int) -> None:
        found.append(RunningProxy(proxy, port, control))
        started.set()

    task_holder: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(serve(args, ready))
        task_holder.append(task)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        # The connections still open end as a stopped proxy's would: cancelled, their sockets closed.
        pending = asyncio.all_tasks(loop)
        for other in pending:
            other.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(asyncio.sleep(0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(DEADLINE), "the proxy did not start"
    try:
        yield found[0]
    finally:
        loop.call_soon_threadsafe(task_holder[0].cancel)
        thread.join(DEADLINE)
        loop.close()


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port that refuses connections: bound and held, never listening, so no one else gets it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])

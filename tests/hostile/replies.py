"""Send requests no well-behaved client would, and check the reply is a clean 4xx.

`requests` normalises what it sends (encodings, header values, framing); these
helpers write the bytes themselves over a socket to the published port on
127.0.0.1 (a remote engine's host), so the services see exactly the hostile input under test.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.support.engine_host import stack_host

TIMEOUT = 10.0  # seconds per exchange: far above any answer the services give


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers (lower-case names) and the raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, response: requests.Response) -> Reply:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return cls(response.status_code, headers, response.content)

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.headers.get('content-type')}: {self.body[:300]!r}"


def assert_client_error(reply: Reply | requests.Response, *statuses: int, field: str | None = None) -> Any:
    """A 4xx (one of `statuses` if given) with a JSON body naming the error; returns the body."""
    if isinstance(reply, requests.Response):
        reply = Reply.of(reply)
    assert 400 <= reply.status < 500, str(reply)
    if statuses:
        assert reply.status in statuses, str(reply)
    assert reply.headers.get("content-type", "").startswith("application/json"), str(reply)
    body = reply.json()
    assert isinstance(body, dict), str(reply)
    assert isinstance(body.get("error"), str), str(reply)
    assert body["error"], str(reply)
    if field is not None:
        assert body.get("field") == field, str(reply)
    return body


def _connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    assert parts.hostname == stack_host(), f"hostile input goes to the stack's host only, not {base_url}"
    return socket.create_connection((parts.hostname, parts.port or 80), timeout=TIMEOUT)


def _head(method: str, path: str, host: str, headers: Iterable[tuple[str, bytes | str]]) -> bytes:
    headers = list(headers)
    lines = [f"{method} {path} HTTP/1.1".encode()]
    if not any(name.lower() == "host" for name, _ in headers):
        lines.append(f"Host: {host}".encode())
    for name, value in headers:
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _read_reply(sock: socket.socket, method: str) -> Reply:
    response = http.client.HTTPResponse(sock, method=method)
    try:  # closed on failure too: its file would otherwise keep the socket open until collected
        response.begin()
        body = response.read()
    finally:
        response.close()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return Reply(response.status, headers, body)


def _stream(sock: socket.socket, pieces: Iterable[bytes]) -> int:
    """Send the pieces in order until the server answers or hangs up; returns bytes sent.

    A server that refuses a request early (413) answers before reading it all
    and may close: sending on regardless would only end in a broken pipe.
    """
    sent = 0
    deadline = time.monotonic() + TIMEOUT
    for piece in pieces:
        pending = memoryview(piece)
        while pending:
            readable, writable, _ = select.select([sock], [sock], [], max(0.0, deadline - time.monotonic()))
            if readable:
                return sent  # an answer (or a hang-up) came before the whole request
            if not writable:
                raise TimeoutError(f"could not send the request within {TIMEOUT} s")
            try:
                count = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                return sent
            sent += count
            pending = pending[count:]
    return sent


def _split(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def raw_request(
    base_url: str,
    method: str,
    path: str,
    headers: Iterable[tuple[str, bytes | str]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> Reply:
    """Send one request exactly as given (header bytes included); Content-Length added unless told."""
    all_headers = list(headers)
    if content_length and (body or method in {"POST", "PUT", "PATCH"}):
        all_headers.append(("Content-Length", str(len(body))))
    with _connect(base_url) as sock:
        _stream(sock, _split(_head(method, path, urlsplit(base_url).netloc, all_headers) + body))
        return _read_reply(sock, method)


def send_chunked(
    base_url: str,
    path: str,
    body: bytes,
    headers: Iterable[tuple[str, bytes | str]] = (),
    chunk_size: int = 64 * 1024,
) -> tuple[Reply, int]:
    """POST `body` with chunked transfer encoding; stop sending once the server answers.

    Returns the reply and how many bytes of the request were sent before it
    came (a service that refuses an over-limit body early never reads all of it).
    """
    all_headers = [*headers, ("Transfer-Encoding", "chunked")]
    chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in _split(body, chunk_size)]
    with _connect(base_url) as sock:
        head = _head("POST", path, urlsplit(base_url).netloc, all_headers)
        sent = _stream(sock, [head, *chunks, b"0\r\n\r\n"])
        return _read_reply(sock, "POST"), sent

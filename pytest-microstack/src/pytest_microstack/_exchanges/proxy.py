"""The recording proxy: one stdlib-only program that runs as a sidecar inside the stack's network.

It stands where a service's callers expect the service (its name and port) and
passes every byte on to the real one, recording each exchange as it goes:
HTTP/1.1 requests and responses (keep-alive, pipelining, chunked or sized
bodies), or, in TCP mode, connections with their byte counts. A second port
(the control port) serves the records and takes the rules of test doubles.

It is shipped into the container as its source (`python3 -c`), so it must run
on any python3 a project's image has: standard library only, Python 3.8 syntax.
Run it with `--help` for its options.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import fnmatch
import http
import json
import signal
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

HEAD_LIMIT = 64 * 1024  # bytes of a request or response head (status line and headers)
BODY_KEEP = 1024  # bytes of each body kept in a record
RECORDS_KEPT = 5000  # records kept for the plugin to fetch; the oldest go first
CONNECT_TIMEOUT = 5.0
COPY_CHUNK = 64 * 1024
LINGER = 2.0  # seconds a closing connection still reads (and drops) what its caller sends
# Interim answers that are not the response (101 ends HTTP on the connection).
NO_BODY_STATUSES = (204, 304)


class ProtocolError(Exception):
    """What came over the connection is not HTTP/1.x as this proxy can pass it on."""

    raw = b""  # the bytes read that were not HTTP, to pass on as they are


class Head:
    """A parsed request or response head, with its raw bytes (passed on unchanged)."""

    def __init__(self, raw: bytes, first: list[str], headers: list[tuple[str, str]]) -> None:
        self.raw = raw
        self.first = first
        self.headers = headers

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        values = [value for key, value in self.headers if key.lower() == lowered]
        return ", ".join(values) if values else None


def parse_head(raw: bytes, request: bool) -> Head:
    """The request line (method, target, version) or status line (version, status, reason), and headers."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    first_line = lines[0]
    if request:
        first = first_line.split(" ")
        if len(first) != 3 or not first[2].startswith("HTTP/1.") or not first[0].isalpha():
            raise ProtocolError(f"not an HTTP/1.x request line: {first_line[:80]!r}")
    else:
        parts = first_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {first_line[:80]!r}")
        first = [parts[0], parts[1], parts[2] if len(parts) > 2 else ""]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip():
            raise ProtocolError(f"malformed header line: {line[:80]!r}")
        headers.append((key, value.strip()))
    return Head(raw, first, headers)


async def read_head(reader: asyncio.StreamReader, request: bool, prefix: bytes = b"") -> Head | None:
    """The next head, or None at a clean end of the stream (nothing more was sent).

    `prefix`: its first bytes, when already read (by the idle watch).
    """
    try:
        raw = prefix + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not (prefix + error.partial).strip():
            return None
        raise ProtocolError("the stream ended inside a head") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"a head longer than {HEAD_LIMIT} bytes") from None
    # Blank lines before a request line are allowed (RFC 9112 §2.2).
    stripped = raw.lstrip(b"\r\n")
    if request and not stripped:
        return await read_head(reader, request)
    try:
        return parse_head(stripped, request)
    except ProtocolError as error:
        error.raw = raw
        raise


def framing(head: Head, request: bool, method: str = "") -> tuple[str, int]:
    """How the body after a head ends: ("none"|"chunked"|"length"|"close", length)."""
    if not request:
        status = int(head.first[1])
        if method == "HEAD" or status < 200 or status in NO_BODY_STATUSES:
            return "none", 0
    coding = (head.header("Transfer-Encoding") or "").lower()
    if coding:
        if coding.replace(" ", "").split(",")[-1] == "chunked":
            return "chunked", 0
        if request:
            raise ProtocolError(f"a request body with Transfer-Encoding {coding!r}")
        return "close", 0
    length = head.header("Content-Length")
    if length is not None:
        values = {value.strip() for value in length.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise ProtocolError(f"a bad Content-Length {length!r}")
        return "length", int(next(iter(values)))
    return ("none", 0) if request else ("close", 0)


class Body:
    """What passed of one body: its size and its first BODY_KEEP bytes."""

    def __init__(self) -> None:
        self.size = 0
        self.kept = b""

    def saw(self, data: bytes) -> None:
        if len(self.kept) < BODY_KEEP:
            self.kept += data[: BODY_KEEP - len(self.kept)]
        self.size += len(data)


def _buffered(reader: asyncio.StreamReader) -> int:
    """Bytes `reader` already holds (0 if it can't tell): what a read returns without waiting."""
    return len(getattr(reader, "_buffer", b""))


async def copy_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter | None,
    kind: str,
    length: int,
    body: Body,
    head: bytes = b"",
) -> None:
    """Pass a body on as it arrives (or drop it when `writer` is None), counting its payload.

    `head`: the message's head, written first. When the body has already arrived,
    head and body go out in one write (one packet, one system call, not two);
    otherwise the head goes at once, so the receiver never waits on the body for it.
    """
    pending = head if kind in ("length", "close") and _buffered(reader) else b""
    if head and not pending and writer is not None:
        writer.write(head)

    async def send(data: bytes) -> None:
        nonlocal pending
        if writer is not None:
            if pending:
                data, pending = pending + data, b""
            writer.write(data)
            await writer.drain()

    try:
        await _copy_body(reader, kind, length, body, send)
    finally:
        if pending and writer is not None:  # no body byte came (an empty body, or an error)
            writer.write(pending)


async def _copy_body(
    reader: asyncio.StreamReader,
    kind: str,
    length: int,
    body: Body,
    send: Callable[[bytes], Awaitable[None]],
) -> None:
    if kind == "length":
        left = length
        while left:
            data = await reader.read(min(left, COPY_CHUNK))
            if not data:
                raise ProtocolError(f"the stream ended {left} bytes before the body's end")
            left -= len(data)
            body.saw(data)
            await send(data)
    elif kind == "close":
        while True:
            data = await reader.read(COPY_CHUNK)
            if not data:
                return
            body.saw(data)
            await send(data)
    elif kind == "chunked":
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"a bad chunk size {line[:40]!r}") from None
            await send(line)
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = await reader.readuntil(b"\r\n")
                    await send(trailer)
                    if trailer == b"\r\n":
                        return
            data = await reader.readexactly(size + 2)
            body.saw(data[:-2])
            await send(data)


class Behaviour:
    """How a double answers: parsed from the rule's JSON, checked once when the rule is set."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.status = int(spec.get("status", 200))
        self.headers = [(str(k), str(v)) for k, v in spec.get("headers", [])]
        self.body = base64.b64decode(spec.get("body", ""))
        self.delay = float(spec.get("delay", 0.0))
        self.rate = spec.get("rate")  # bytes per second for the body, or None
        self.reset_after = spec.get("reset_after")  # body bytes sent before a reset, or None
        self.close = bool(spec.get("close", False))  # close with no response
        self.content_length = spec.get("content_length")  # the declared length, when it lies
        self.pass_status = spec.get("pass_status")  # pass through, with this status instead
        if not 100 <= self.status <= 999:
            raise ValueError(f"status {self.status!r} is not a three-digit code")
        if self.rate is not None and not float(self.rate) > 0:
            raise ValueError("rate must be more than 0 bytes/s")


class Rule:
    """Requests it matches (method and a path pattern), the Nth call only if asked, and its behaviour."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.id = str(spec.get("id", ""))
        self.method = str(spec.get("method", "*")).upper()
        self.path = str(spec["path"])
        self.nth = spec.get("nth")
        self.behaviour = Behaviour(spec.get("respond", {}))
        self.matched = 0

    def applies(self, method: str, path: str) -> bool:
        """Counts the match; true when this call is the one to answer."""
        if self.method not in ("*", method) or not fnmatch.fnmatchcase(path.split("?", 1)[0], self.path):
            return False
        self.matched += 1
        return self.nth is None or self.matched == int(self.nth)


class Recorder:
    """The records of one proxy, oldest first, with a sequence number the plugin fetches from."""

    def __init__(self, service: str, kept: int = RECORDS_KEPT) -> None:
        self.service = service
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=kept)
        self.open: dict[int, dict[str, Any]] = {}
        self.seq = 0
        self.dropped = 0
        self.rules: list[Rule] = []

    def start(self, record: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        record["seq"] = self.seq
        record["service"] = self.service
        self.open[self.seq] = record
        return record

    def finish(self, record: dict[str, Any]) -> None:
        if self.open.pop(record["seq"], None) is None:
            return  # finished once already
        if len(self.records) == self.records.maxlen:
            self.dropped += 1
        self.records.append(record)

    def after(self, seq: int, since: float = 0.0) -> dict[str, Any]:
        """Records after sequence number `seq` that started at `since` or later; those in flight last."""
        done = [record for record in self.records if record["seq"] > seq and record["start"] >= since]
        pending = [
            dict(record, pending=True)
            for record in self.open.values()
            if record["seq"] > seq and record["start"] >= since
        ]
        return {"service": self.service, "seq": self.seq, "dropped": self.dropped, "records": done + pending}

    def match(self, method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.applies(method, path):
                return rule
        return None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if peer else "?"


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST), as a crashed peer would: SO_LINGER 0, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _flushed(writer: asyncio.StreamWriter) -> None:
    """Wait until everything written was handed to the kernel (drain waits only for the high-water mark)."""
    writer.transport.set_write_buffer_limits(0)
    await writer.drain()


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None and not writer.is_closing():
        writer.close()


class Exchange:
    """One request in flight: its record, and whether a double answers it."""

    def __init__(self, record: dict[str, Any], method: str, rule: Rule | None, started: float) -> None:
        self.record = record
        self.method = method
        self.rule = rule
        self.started = started
        self.body_sent = asyncio.Event()  # the request's body was read (doubles answer after it)


class HttpConnection:
    """One caller's connection and its own connection to the real service, kept alive together.

    Two tasks: requests flow caller -> service, responses service -> caller; a
    queue pairs each response with its request in order (pipelining). A request
    a double answers is read and not sent on; the response side answers it in
    its turn.
    """

    def __init__(
        self,
        recorder: Recorder,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.recorder = recorder
        self.creader, self.cwriter = client
        self.ureader, self.uwriter = upstream
        self.caller = _peer(self.cwriter)
        self.queue: asyncio.Queue[Exchange | None] = asyncio.Queue()
        self.tunnel = False  # after a 101 or a non-HTTP start: bytes only
        self.watch: asyncio.Future[bytes] | None = None  # reads the service's side while idle
        self.prefix = b""  # bytes the watch read

    async def run(self) -> None:
        requests = asyncio.ensure_future(self._requests())
        responses = asyncio.ensure_future(self._responses())
        try:
            await responses
        finally:
            requests.cancel()
            if self.watch is not None:
                self.watch.cancel()
            await asyncio.gather(requests, *([self.watch] if self.watch else []), return_exceptions=True)
            for record in list(self.recorder.open.values()):
                if record.get("conn") == id(self):
                    record.setdefault("error", "connection closed before the response ended")
                    self.recorder.finish(record)
            _close(self.uwriter)
            await self._linger()
            _close(self.cwriter)

    async def _linger(self) -> None:
        """Close the caller's side gently: its answer sent, then what it still sends is read and dropped.

        A service may answer (a 413) and close before reading the whole request;
        closing the caller's connection with its body unread would reset it, and
        the reset can destroy the answer before the caller reads it.
        """
        if self.cwriter.is_closing():
            return
        try:
            await _flushed(self.cwriter)
            if self.cwriter.can_write_eof():
                self.cwriter.write_eof()
            deadline = time.monotonic() + LINGER
            while time.monotonic() < deadline:
                if not await asyncio.wait_for(self.creader.read(COPY_CHUNK), deadline - time.monotonic()):
                    return
        except (OSError, asyncio.TimeoutError):  # noqa: UP041 - distinct before 3.11
            pass

    async def _requests(self) -> None:
        try:
            while True:
                head = await read_head(self.creader, request=True)
                if head is None:
                    break
                started = time.monotonic()
                method, target, _ = head.first
                try:
                    kind, length = framing(head, request=True)
                except ProtocolError as error:
                    error.raw = head.raw  # the service answers what it can't frame (a 400, a 501)
                    raise
                record = self.recorder.start(
                    {
                        "kind": "http",
                        "caller": self.caller,
                        "method": method,
                        "path": target,
                        "start": time.time(),
                        "request_headers": head.headers,
                        "conn": id(self),
                    }
                )
                rule = self.recorder.match(method, target)
                passing = rule is None or rule.behaviour.pass_status is not None
                if rule is not None:
                    record["double"] = rule.id
                exchange = Exchange(record, method, rule, started)
                self.queue.put_nowait(exchange)
                body = Body()
                upstream = self.uwriter if passing else None
                await copy_body(self.creader, upstream, kind, length, body, head=head.raw)
                record["request_size"] = body.size
                record["request_body"] = _text(body.kept)
                exchange.body_sent.set()
                if head.header("Upgrade") and passing:
                    await self._pipe(self.creader, self.uwriter, record, "sent")
                    return
            if not self.uwriter.is_closing() and self.uwriter.can_write_eof():
                self.uwriter.write_eof()
        except ProtocolError as error:
            # Not HTTP as the proxy can frame it: the rest goes on as bytes, unrecorded,
            # and the service answers it as it would without the proxy.
            self.tunnel = True
            self.queue.put_nowait(None)
            self.uwriter.write(error.raw)
            await self._pipe(self.creader, self.uwriter, {"error": str(error)}, "sent")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.queue.put_nowait(None)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: dict[str, Any], key: str
    ) -> None:
        try:
            while True:
                data = await reader.read(COPY_CHUNK)
                if not data:
                    break
                record[key] = record.get(key, 0) + len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        except ConnectionError:
            pass

    async def _responses(self) -> None:
        try:
            while True:
                exchange = await self._next_exchange()
                if exchange is None:
                    if self.tunnel:
                        await self._tunnel_responses()
                    return
                rule = exchange.rule
                if rule is not None and rule.behaviour.pass_status is None:
                    keep_open = await self._answer(exchange, rule.behaviour)
                else:
                    keep_open = await self._relay(exchange)
                self._finish(exchange)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ProtocolError) as error:
            for record in list(self.recorder.open.values()):
                if record.get("conn") == id(self) and "error" not in record:
                    record["error"] = f"{type(error).__name__}: {error}"
            _abort(self.cwriter)  # the caller sees its connection fail, as without the proxy

    async def _next_exchange(self) -> Exchange | None:
        """The next request to answer; meanwhile, an idle service connection is watched.

        A service closes an idle kept-alive connection (its keep-alive timeout):
        the caller's connection is then closed too, so the caller opens a new
        one for its next request, as it would without the proxy, instead of
        sending it into a connection that is gone. Bytes the service sends
        unasked (a 408 before closing) go to the caller, then the connection ends.
        """
        if self.watch is None and not self.prefix and self.queue.empty():
            self.watch = asyncio.ensure_future(self.ureader.read(1))
        if self.watch is None:
            return await self.queue.get()
        getting = asyncio.ensure_future(self.queue.get())
        waited: set[asyncio.Future[Any]] = {getting, self.watch}
        try:
            done, _ = await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getting.done():
                getting.cancel()
        if getting in done:
            return getting.result()
        data = self.watch.result()
        self.watch = None
        if data:
            self.cwriter.write(data)
            await self._pipe(self.ureader, self.cwriter, {}, "received")
        elif self.cwriter.can_write_eof() and not self.cwriter.is_closing():
            self.cwriter.write_eof()
        return None

    async def _tunnel_responses(self) -> None:
        """After a request the proxy could not frame: the service's bytes go to the caller as they come."""
        try:
            self.cwriter.write(await self._first_bytes())
        except ConnectionResetError:  # the service closed: so does the caller's connection
            return
        await self._pipe(self.ureader, self.cwriter, {}, "received")

    async def _first_bytes(self) -> bytes:
        """What the idle watch already read of the next response (b"" if nothing)."""
        if self.watch is not None:
            data = await self.watch
            self.watch = None
            if not data:
                raise ConnectionResetError("the service closed the connection with no response")
            self.prefix += data
        prefix, self.prefix = self.prefix, b""
        return prefix

    def _finish(self, exchange: Exchange) -> None:
        exchange.record["duration_ms"] = round((time.monotonic() - exchange.started) * 1000, 3)
        self.recorder.finish(exchange.record)

    async def _final_head(self) -> Head | None:
        """The response's head, after passing interim ones (100 Continue, 103) to the caller."""
        while True:
            head = await read_head(self.ureader, request=False, prefix=await self._first_bytes())
            if head is None or int(head.first[1]) >= 200 or head.first[1] == "101":
                return head
            self.cwriter.write(head.raw)
            await self.cwriter.drain()

    async def _relay(self, exchange: Exchange) -> bool:
        """Pass the service's response on (interim 1xx ones first); false when the connection ends."""
        record = exchange.record
        head = await self._final_head()
        if head is None:
            record["error"] = "the service closed the connection with no response"
            _abort(self.cwriter)
            return False
        status = int(head.first[1])
        raw = head.raw
        rule = exchange.rule
        if rule is not None and rule.behaviour.pass_status is not None:
            record["real_status"] = status
            status = int(rule.behaviour.pass_status)
            raw = _status_line(head.first[0], status) + raw.split(b"\r\n", 1)[1]
        record["status"] = status
        record["response_headers"] = head.headers
        if status == 101:
            self.cwriter.write(raw)
            await self.cwriter.drain()
            record["response_size"] = 0
            self._finish(exchange)
            self.tunnel = True
            await self._pipe(self.ureader, self.cwriter, record, "received")
            return False
        kind, length = framing(head, request=False, method=exchange.method)
        body = Body()
        await copy_body(self.ureader, self.cwriter, kind, length, body, head=raw)
        await self.cwriter.drain()
        record["response_size"] = body.size
        record["response_body"] = _text(body.kept)
        closing = (head.header("Connection") or "").lower() == "close" or kind == "close"
        if closing:
            await _flushed(self.cwriter)
        return not closing

    async def _answer(self, exchange: Exchange, behaviour: Behaviour) -> bool:
        """A double's answer instead of the service's; false when it ends the connection."""
        record = exchange.record
        await exchange.body_sent.wait()
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.close:
            record["error"] = "closed with no response (double)"
            await _flushed(self.cwriter)
            _close(self.cwriter)
            return False
        body = behaviour.body
        headers = list(behaviour.headers)
        names = {key.lower() for key, _ in headers}
        declared = behaviour.content_length if behaviour.content_length is not None else len(body)
        if "content-length" not in names:
            headers.append(("Content-Length", str(declared)))
        lying = declared != len(body)
        if lying or behaviour.reset_after is not None:
            headers.append(("Connection", "close"))
        head = _status_line("HTTP/1.1", behaviour.status) + b"".join(
            (f"{key}: {value}\r\n").encode("latin-1") for key, value in headers
        )
        record["status"] = behaviour.status
        record["response_headers"] = headers
        self.cwriter.write(head + b"\r\n")
        await self.cwriter.drain()
        if exchange.method == "HEAD":
            body = b""
        sent = body if behaviour.reset_after is None else body[: int(behaviour.reset_after)]
        await self._send(sent, behaviour.rate)
        record["response_size"] = len(sent)
        record["response_body"] = _text(sent[:BODY_KEEP])
        if behaviour.reset_after is not None:
            await _flushed(self.cwriter)
            record["error"] = f"reset after {len(sent)} body bytes (double)"
            _abort(self.cwriter)
            return False
        if lying:
            await _flushed(self.cwriter)
            _close(self.cwriter)
            return False
        return True

    async def _send(self, data: bytes, rate: float | None) -> None:
        if not rate:
            self.cwriter.write(data)
            await self.cwriter.drain()
            return
        piece = max(1, int(float(rate) / 20))  # about 20 writes a second
        for offset in range(0, len(data), piece):
            self.cwriter.write(data[offset : offset + piece])
            await self.cwriter.drain()
            if offset + piece < len(data):
                await asyncio.sleep(piece / float(rate))


def _status_line(version: str, status: int) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    return f"{version} {status} {reason}\r\n".encode("latin-1")


class _KeepReading(asyncio.StreamReaderProtocol):
    """A connection whose writes failed (the service closed) still reads what the service sent first.

    A service that refuses a request early (a 413) answers, then closes with
    the body unread, and its kernel resets the connection. asyncio then stops
    reading at once and reports the write's error, which would lose an answer
    still waiting in this side's kernel buffer: that answer is read here, before
    the socket closes, and then the end of the stream.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw_transport = transport
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            for data in _unread(self.raw_transport):
                self.data_received(data)
            exc = None
        super().connection_lost(exc)


def _unread(transport: asyncio.BaseTransport) -> Iterator[bytes]:
    """What the kernel still holds for a socket asyncio stopped reading (Linux keeps it past a reset)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with sock.dup() as copy:
        copy.setblocking(False)
        while True:
            try:
                data = copy.recv(COPY_CHUNK)
            except OSError:  # nothing more (EAGAIN), or the reset itself once the data is read
                return
            if not data:
                return
            yield data


async def open_upstream(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_connection`, with `_KeepReading`."""
    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader(limit=HEAD_LIMIT)
    protocol = _KeepReading(reader)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class Proxy:
    """Listens where callers expect the service; each connection goes on to the real one."""

    def __init__(self, service: str, upstream: tuple[str, int], mode: str = "http") -> None:
        self.recorder = Recorder(service)
        self.upstream = upstream
        self.mode = mode
        self.writers: set[asyncio.StreamWriter] = set()  # every open connection, to close at the end
        self.handlers: set[asyncio.Future[Any]] = set()
        self.started_rss_kib: int | None = None  # the peak RSS once listening (see `usage`)

    async def stop(self) -> None:
        """Reset every connection still open and wait (briefly) for their handlers to end."""
        for writer in list(self.writers):
            writer.transport.abort()
        if self.handlers:
            await asyncio.wait(list(self.handlers), timeout=CONNECT_TIMEOUT)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        self.writers.add(writer)
        try:
            await self._handle(reader, writer)
        finally:
            if task is not None:
                self.handlers.discard(task)
            self.writers.discard(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ureader, uwriter = await asyncio.wait_for(open_upstream(*self.upstream), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as error:  # noqa: UP041 - distinct before 3.11
            # Refused, unresolvable, unreachable: the caller's connection is reset at once,
            # the nearest a proxy gets to the refusal it would have seen.
            self.recorder.finish(
                self.recorder.start(
                    {
                        "kind": self.mode,
                        "caller": _peer(writer),
                        "start": time.time(),
                        "duration_ms": 0.0,
                        "error": "could not connect to the service: %s" % (error or type(error).__name__),
                    }
                )
            )
            _abort(writer)
            return
        self.writers.add(uwriter)
        _nodelay(writer)
        _nodelay(uwriter)
        try:
            if self.mode == "tcp":
                await self._tcp(reader, writer, ureader, uwriter)
            else:
                await HttpConnection(self.recorder, (reader, writer), (ureader, uwriter)).run()
        finally:
            self.writers.discard(uwriter)

    async def _tcp(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        ureader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
    ) -> None:
        started = time.monotonic()
        record = self.recorder.start(
            {"kind": "tcp", "caller": _peer(writer), "start": time.time(), "sent": 0, "received": 0}
        )

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, key: str) -> None:
            try:
                while True:
                    data = await source.read(COPY_CHUNK)
                    if not data:
                        break
                    record[key] += len(data)
                    sink.write(data)
                    await sink.drain()
                if sink.can_write_eof() and not sink.is_closing():
                    sink.write_eof()
            except (ConnectionError, OSError):
                _abort(sink)

        try:
            await asyncio.gather(pipe(reader, uwriter, "sent"), pipe(ureader, writer, "received"))
        finally:
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
            self.recorder.finish(record)
            _close(uwriter)
            _close(writer)


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Control:
    """The control port: GET /records?after=N, PUT/GET/DELETE /rules, GET /health, GET /usage (JSON)."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await read_head(reader, request=True)
                if head is None:
                    return
                length = int(head.header("Content-Length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, answer = self.answer(head.first[0], head.first[1], body)
                payload = json.dumps(answer).encode()
                writer.write(
                    _status_line("HTTP/1.1", status)
                    + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
                    + payload
                )
                await writer.drain()
        except (ProtocolError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            _close(writer)

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        recorder = self.proxy.recorder
        path, _, query = target.partition("?")
        if path == "/health" and method == "GET":
            return 200, {"service": recorder.service, "mode": self.proxy.mode}
        if path == "/usage" and method == "GET":
            return 200, usage(self.proxy)
        if path == "/records" and method == "GET":
            params = dict(part.partition("=")[::2] for part in query.split("&") if part)
            try:
                after = int(params.get("after", "0"))
                since = float(params.get("since", "0"))
            except ValueError:
                return 400, {"error": "after and since must be numbers"}
            return 200, recorder.after(after, since)
        if path == "/rules":
            if method == "GET":
                return 200, [{"id": rule.id, "matched": rule.matched} for rule in recorder.rules]
            if method == "DELETE":
                recorder.rules = []
                return 200, []
            if method == "PUT":
                try:
                    recorder.rules = [Rule(spec) for spec in json.loads(body.decode() or "[]")]
                except (ValueError, KeyError, TypeError) as error:
                    return 400, {"error": f"bad rules: {error}"}
                return 200, [rule.id for rule in recorder.rules]
        return 404, {"error": f"no {method} {path}"}


def peak_rss_kib() -> int | None:
    """This process's peak RSS in KiB (getrusage; KiB on Linux), None where there is no getrusage."""
    try:
        import resource  # Unix only; the proxy runs in a Linux container
    except ImportError:  # pragma: no cover - not on Linux
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def usage(proxy: Proxy) -> dict[str, Any]:
    """What the recording costs this process: its peak RSS (KiB), that peak once serving began, records.

    For the benchmark of issue 26 (the recording's memory over a whole suite): the
    peak is the kernel's own, so a poll late in a run sees all of it; the peak at
    the start is the interpreter and the proxy's code, before any record.
    """
    recorder = proxy.recorder
    return {
        "max_rss_kib": peak_rss_kib(),
        "start_max_rss_kib": proxy.started_rss_kib,
        "records": len(recorder.records),
        "in_flight": len(recorder.open),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="microstack-proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--service", required=True, help="the service's name, for the records")
    parser.add_argument("--listen", type=int, required=True, help="port callers connect to")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the real service")
    parser.add_argument("--control", type=int, required=True, help="port of the control endpoint")
    parser.add_argument("--mode", choices=("http", "tcp"), default="http")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    if not host or not port.isdigit():
        parser.error("--upstream must be HOST:PORT")
    args.upstream_address = (host, int(port))
    return args


async def serve(args: argparse.Namespace, ready: Callable[[Proxy, int, int], None] | None = None) -> None:
    """Serve until cancelled (or SIGTERM); `ready(proxy, listen port, control port)` once bound."""
    proxy = Proxy(args.service, args.upstream_address, args.mode)
    control = Control(proxy)
    listener = await asyncio.start_server(proxy.handle, args.host, args.listen, limit=HEAD_LIMIT)
    controller = await asyncio.start_server(control.handle, args.host, args.control, limit=HEAD_LIMIT)
    ports = (listener.sockets[0].getsockname()[1], controller.sockets[0].getsockname()[1])
    proxy.started_rss_kib = peak_rss_kib()
    if ready is not None:
        ready(proxy, *ports)
    stop = asyncio.get_event_loop().create_future()
    if ready is None:  # as a program: a stop request ends it at once (it holds no state worth saving)
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_event_loop().add_signal_handler(signum, stop.cancel)
    try:
        await stop
    except asyncio.CancelledError:
        pass
    finally:
        listener.close()
        controller.close()
        await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    host, port = args.upstream_address
    sys.stdout.write(
        f"proxy for {args.service}: :{args.listen} -> {host}:{port} ({args.mode}), control :{args.control}\n"
    )
    sys.stdout.flush()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

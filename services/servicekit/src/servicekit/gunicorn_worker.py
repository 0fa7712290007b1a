"""gunicorn's gthread worker, handing a request to a thread only once all of it has arrived.

Why (read in gunicorn 27.0.1's workers/gthread.py): an accepted connection goes
straight to the thread pool; the thread waits up to 5 s for a first byte, then
reads the head, and the application reads the body, with blocking recv() calls
and no deadline. A client trickling its head or body holds a thread for as long
as it likes: 8 of them (2 workers x 4 threads) left /health answering nothing.
- Socket timeouts bound each recv(), not the request: one byte every 2 s passes
  any of them.
- A body-read deadline in a WSGI wrapper answers 408 in the end, but holds the
  thread until then: 64 slow clients on 8 threads still starve /health.
- More threads or fewer worker_connections only change how many sockets the
  attacker opens.
So here a slow client costs no thread while it is slow: each time its socket is
readable, a thread moves what arrived into the parser's buffer without blocking
and gives the connection back to gunicorn's poller, until the head and the body
(by Content-Length or chunked framing) are complete. Then gunicorn parses and the
application runs, reading from memory. A request still incomplete
READ_DEADLINE_SECONDS after its first byte gets 408 with a JSON error (within one
more second, gunicorn's poll tick) and the connection is closed.

Buffering is bounded per connection by BUFFER_LIMIT (the body limit the services
enforce, plus room for the head): a larger request is handed on at that point and
the application refuses it (413) as before.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

from gunicorn.workers import gthread

from servicekit import MAX_CONTENT_LENGTH
from servicekit.gunicorn_settings import env_int

#: Default seconds a request may take to arrive whole, from its first byte
#: (GUNICORN_READ_DEADLINE_SECONDS).
READ_DEADLINE_SECONDS = 10
#: Room for a request's head in the buffer; a head without its end past this is handed on.
HEAD_LIMIT = 64 * 1024
BUFFER_LIMIT = MAX_CONTENT_LENGTH + HEAD_LIMIT
_RECV_SIZE = 64 * 1024


def request_complete(data: bytes) -> bool:
    """Whether data holds a whole request (or enough for gunicorn or the app to answer it now)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        # No end of head yet: wait, unless it is too long or uses bare LFs (gunicorn refuses both).
        return len(data) >= HEAD_LIMIT or b"\n\n" in data
    headers = _headers(data[:head_end])
    body = data[head_end + 4 :]
    coding = headers.get("transfer-encoding")
    if coding is not None:
        # gunicorn refuses any other coding or a Content-Length beside it (400, 501): at once.
        return coding != "chunked" or "content-length" in headers or _chunked_complete(body)
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        return True  # gunicorn answers 400
    # Over the limit, the app answers 413 without reading the body.
    return length > MAX_CONTENT_LENGTH or len(body) >= length


def _headers(head: bytes) -> dict[str, str]:
    """The head's fields by lower-case name (later values joined by commas)."""
    fields: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        fields[key] = f"{fields[key]},{value.strip()}" if key in fields else value.strip()
    return {key: value.lower() for key, value in fields.items()}


def _chunked_complete(body: bytes) -> bool:
    """Whether a chunked body has arrived up to its last chunk and the end of its trailers."""
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            return False
        try:
            size = int(body[position:line_end].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return True  # gunicorn answers 400
        if size == 0:
            return b"\r\n\r\n" in body[line_end:]
        position = line_end + 2 + size + 2  # past the end of body: no size line there yet


def timeout_response(deadline: float) -> bytes:
    """The 408 sent to a request that did not arrive in time: JSON, and the connection closes."""
    body = json.dumps({"error": f"the request did not arrive within {deadline:g} seconds"}).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _refuse(sock: socket.socket, deadline: float) -> None:
    """Send the 408 without blocking, then close so that it is not lost to a reset."""
    try:
        sock.send(timeout_response(deadline), socket.MSG_DONTWAIT)
        while sock.recv(_RECV_SIZE, socket.MSG_DONTWAIT):
            pass  # what the client sent unread would turn our close into a reset
    except OSError:
        pass  # BlockingIOError ends the draining; a broken socket has no one to answer
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()


class BufferingThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    """gthread, but a thread runs a request only once it has all arrived; 408 past the deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_deadline = float(env_int("GUNICORN_READ_DEADLINE_SECONDS", READ_DEADLINE_SECONDS))

    def handle(self, conn: Any) -> Any:
        """Buffer what has arrived; run the request when whole, else back to the poller (or 408)."""
        if self.cfg.is_ssl:
            return super().handle(conn)  # TLS needs its handshake first; the services serve plain HTTP
        if self._pull(conn):
            conn.data_ready = True
            conn.read_started = None
            return super().handle(conn)
        started = getattr(conn, "read_started", None)
        if started is None and conn.parser.unreader.buf.tell():
            started = conn.read_started = time.monotonic()
        if started is None:  # nothing sent yet: gunicorn's keepalive wait, as before
            return gthread._DEFER if self.alive else False
        if not self.alive or time.monotonic() - started >= self.read_deadline:
            _refuse(conn.sock, self.read_deadline)
            return False
        return gthread._DEFER

    def _pull(self, conn: Any) -> bool:
        """Move the bytes that have arrived into the parser's buffer, without blocking;
        True when the request is complete or can't be waited for (closed, failed, too big)."""
        conn.init()  # the parser (no I/O without TLS); idempotent
        if conn.is_http2:
            return True
        buffer = conn.parser.unreader.buf
        buffer.seek(0, 2)
        while buffer.tell() < BUFFER_LIMIT:
            try:
                data = conn.sock.recv(min(_RECV_SIZE, BUFFER_LIMIT - buffer.tell()), socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return True  # gunicorn meets the error and closes
            if not data:
                return True  # closed by the client: gunicorn sees the end
            buffer.write(data)
        data = buffer.getvalue()
        if len(data) >= BUFFER_LIMIT or request_complete(data):
            return True
        head, whole_head, _ = data.partition(b"\r\n\r\n")
        if whole_head and b"100-continue" in head.lower() and not getattr(conn, "continued", False):
            # The client waits for this before it sends the body: say it now, while buffering
            # (gunicorn says it again later; a client takes any number of 1xx answers).
            conn.continued = True
            with contextlib.suppress(OSError):  # a full send buffer: the client sends anyway, later
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n", socket.MSG_DONTWAIT)
        return False

    def finish_request(self, conn: Any, fs: Any) -> None:
        """gunicorn's, then a request under way waits until its deadline, not just keepalive."""
        super().finish_request(conn, fs)
        started = getattr(conn, "read_started", None)
        if (
            started is not None
            and not fs.cancelled()
            and fs.exception() is None
            and fs.result() is gthread._DEFER
        ):
            conn.timeout = started + self.read_deadline

    def murder_pending(self) -> None:
        """Close connections waiting past their time; a request under way gets its 408 first.

        gunicorn's own stops at the first entry not yet due; ours have timeouts out of
        order (a request's deadline, or keepalive for an idle connection), so all are looked at.
        """
        now = time.monotonic()
        for conn in [conn for conn in self.pending_conns if conn.timeout <= now]:
            self.pending_conns.remove(conn)
            # Not registered, or closed (a closed descriptor's OSError selectors swallow themselves).
            with contextlib.suppress(KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            if getattr(conn, "read_started", None) is not None:
                _refuse(conn.sock, self.read_deadline)
            else:
                conn.close()

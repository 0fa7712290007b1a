"""The buffering gthread worker, in-process: when a request is whole, and what it does until then.

The worker runs over a real socket pair and gunicorn's own connection class and
config; only the gthread handling it hands a whole request to is replaced (it would
run the WSGI app). Against a real gunicorn: user-service's test_user_gunicorn.py.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.workers import gthread
from servicekit import MAX_CONTENT_LENGTH, gunicorn_worker
from servicekit.gunicorn_worker import HEAD_LIMIT, BufferingThreadWorker, request_complete

HEAD = b"POST /x HTTP/1.1\r\nHost: a\r\n"
LONG_HEAD = b"GET / HTTP/1.1\r\nX: "
DEADLINE = 10.0
# How long the client end waits for what the worker sent (it is sent before handle returns).
READ_TIMEOUT_SECONDS = 5.0


def with_length(length: int, body: bytes) -> bytes:
    return HEAD + b"Content-Length: %d\r\n\r\n" % length + body


def coded(coding: bytes) -> bytes:
    return HEAD + b"Transfer-Encoding: " + coding + b"\r\n\r\n"


def chunked(body: bytes) -> bytes:
    return HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        pytest.param(b"", False, id="nothing"),
        pytest.param(HEAD, False, id="head-without-its-end"),
        pytest.param(HEAD + b"\r\n", True, id="no-body"),
        pytest.param(b"\r\n\r\n", True, id="empty-head-gunicorn-answers"),
        pytest.param(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n1234", False, id="length-first-field"),
        pytest.param(with_length(5, b"1234"), False, id="one-byte-short"),
        pytest.param(with_length(5, b"12345"), True, id="exactly-its-length"),
        pytest.param(with_length(5, b"123456"), True, id="more-than-its-length"),
        pytest.param(HEAD + b"content-length:  5 \r\n\r\n1234", False, id="header-name-any-case"),
        pytest.param(HEAD + b"Content-Length: five\r\n\r\n", True, id="bad-length-gunicorn-answers"),
        pytest.param(HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n", True, id="two-lengths"),
        pytest.param(with_length(MAX_CONTENT_LENGTH, b""), False, id="length-at-the-body-limit"),
        pytest.param(with_length(MAX_CONTENT_LENGTH + 1, b""), True, id="length-over-the-limit-413"),
        pytest.param(chunked(b"5\r\nhello\r\n0\r\n\r\n"), True, id="chunked-whole"),
        pytest.param(chunked(b"5\r\nhello\r\n0\r\n"), False, id="chunked-before-the-final-crlf"),
        pytest.param(chunked(b"5\r\nhello\r\n"), False, id="chunked-without-last-chunk"),
        pytest.param(chunked(b"5\r\nhel"), False, id="chunked-inside-a-chunk"),
        pytest.param(chunked(b"5"), False, id="chunked-inside-a-size-line"),
        pytest.param(chunked(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), True, id="chunked-two-chunks"),
        pytest.param(chunked(b"5;name=value\r\nhello\r\n0\r\n\r\n"), True, id="chunk-extension"),
        pytest.param(chunked(b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"), True, id="trailers-whole"),
        pytest.param(chunked(b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n"), False, id="trailers-under-way"),
        pytest.param(chunked(b"zz\r\n"), True, id="bad-chunk-size-gunicorn-answers"),
        pytest.param(chunked(b"\r\n"), True, id="empty-chunk-size-gunicorn-answers"),
        pytest.param(chunked(b"10\r\n" + b"x" * 10 + b"\r\n0\r\n\r\n"), False, id="chunk-size-is-hex"),
        pytest.param(
            chunked(b"10\r\n" + b"x" * 16 + b"\r\n0\r\n"), False, id="hex-size-before-the-final-crlf"
        ),
        pytest.param(chunked(b"g\r\n"), True, id="size-just-past-hex-gunicorn-answers"),
        pytest.param(chunked(b"5;n=v\r\nhel"), False, id="chunk-extension-under-way"),
        pytest.param(chunked(b"5;a=1;b=2\r\nhel"), False, id="two-chunk-extensions-under-way"),
        pytest.param(chunked(b"8\r\nab\r\n\r\ncd\r\n"), False, id="blank-line-inside-a-chunk"),
        pytest.param(chunked(b"8\r\nab\r\n\r\ncd\r\n0\r\n"), False, id="blank-line-before-last-chunk"),
        pytest.param(coded(b"Chunked") + b"5\r\nhello\r\n", False, id="chunked-any-case"),
        pytest.param(coded(b"chunked\r\nTransfer-Encoding: chunked"), True, id="chunked-twice-400"),
        pytest.param(coded(b"gzip, chunked"), True, id="other-coding-gunicorn-answers"),
        pytest.param(coded(b"xyz"), True, id="unknown-coding-501"),
        pytest.param(coded(b"chunked\r\nContent-Length: 5"), True, id="chunked-and-length-400"),
        # A field's name ends at its first colon: this is a Content-Length (of "1:2").
        pytest.param(
            coded(b"chunked\r\nContent-Length: 1:2"), True, id="chunked-and-length-with-a-colon-400"
        ),
        pytest.param(b"GET / HTTP/1.1\nHost: a\n\n", True, id="bare-lf-gunicorn-refuses"),
        pytest.param(LONG_HEAD + b"a" * (HEAD_LIMIT - len(LONG_HEAD)), True, id="head-at-its-limit"),
        pytest.param(LONG_HEAD + b"a" * (HEAD_LIMIT - len(LONG_HEAD) - 1), False, id="head-one-under"),
    ],
)
def test_request_complete(data: bytes, complete: bool) -> None:
    assert request_complete(data) is complete


def test_the_408_is_json_and_closes_the_connection() -> None:
    response = gunicorn_worker.timeout_response(2.5)
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 408 Request Timeout"
    expected = {"Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: close"}
    assert expected <= set(lines)
    assert json.loads(body) == {"error": "the request did not arrive within 2.5 seconds"}


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Function scope: (client, server) ends of a connected socket pair."""
    client, server = socket.socketpair()
    yield client, server
    client.close()
    server.close()


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[BufferingThreadWorker]:
    """Function scope: the worker's state, without a process; a whole request is recorded, not run."""
    monkeypatch.setattr(
        gthread.ThreadWorker,
        "handle",
        lambda self, conn: ("ran", conn.parser.unreader.buf.getvalue() if conn.parser else conn),
    )
    instance = BufferingThreadWorker.__new__(BufferingThreadWorker)
    instance.cfg = Config()
    instance.alive = True
    instance.read_deadline = DEADLINE
    instance.poller = selectors.DefaultSelector()
    instance.pending_conns = deque()
    instance.keepalived_conns = deque()
    instance.nr_conns = 0
    yield instance
    instance.poller.close()


def connection(server: socket.socket) -> Any:
    return gthread.TConn(Config(), server, ("127.0.0.1", 40000), ("127.0.0.1", 5000))


def received(client: socket.socket) -> bytes:
    """What the worker sent, up to its close (or the timeout)."""
    client.settimeout(READ_TIMEOUT_SECONDS)
    data = b""
    try:
        while chunk := client.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data


def test_nothing_sent_yet_goes_back_to_the_poller_without_a_deadline(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    conn = connection(pair[1])
    assert worker.handle(conn) is gthread._DEFER
    assert getattr(conn, "read_started", None) is None


def test_a_request_is_buffered_until_whole_then_run(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    request = with_length(5, b"12345")
    client.sendall(request[:-2])
    before = time.monotonic()
    assert worker.handle(conn) is gthread._DEFER
    assert before <= conn.read_started <= time.monotonic()
    started = conn.read_started
    client.sendall(request[-2:-1])
    assert worker.handle(conn) is gthread._DEFER
    assert conn.read_started == started  # the deadline runs from the first byte
    client.sendall(request[-1:])
    assert worker.handle(conn) == ("ran", request)
    assert conn.data_ready is True
    assert conn.read_started is None  # the next request on the connection starts afresh


def test_past_the_deadline_the_request_gets_408_and_is_closed(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(with_length(5, b"1"))
    assert worker.handle(conn) is gthread._DEFER
    conn.read_started -= DEADLINE  # as if the first byte came DEADLINE seconds ago
    client.sendall(b"2")
    assert worker.handle(conn) is False
    assert received(client) == gunicorn_worker.timeout_response(DEADLINE)


class Clock:
    """time.monotonic for the worker module, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Function scope: the worker module's clock, standing still until moved."""
    fake = Clock()
    monkeypatch.setattr(gunicorn_worker, "time", fake)
    return fake


@pytest.mark.parametrize(
    ("waited", "refused"), [(DEADLINE - 0.001, False), (DEADLINE, True)], ids=["before", "at"]
)
def test_the_deadline_itself(
    worker: BufferingThreadWorker,
    pair: tuple[socket.socket, socket.socket],
    clock: Clock,
    waited: float,
    refused: bool,
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(with_length(5, b"1"))
    assert worker.handle(conn) is gthread._DEFER
    assert conn.read_started == clock.now
    clock.now += waited
    assert worker.handle(conn) is (False if refused else gthread._DEFER)


def test_a_stopping_worker_closes_an_idle_connection(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    conn = connection(pair[1])
    worker.alive = False
    assert worker.handle(conn) is False  # gunicorn closes it


def test_a_stopping_worker_answers_a_request_under_way_408(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(with_length(5, b"1"))
    worker.alive = False
    assert worker.handle(conn) is False
    assert received(client) == gunicorn_worker.timeout_response(DEADLINE)


def test_a_client_that_closed_is_handed_on(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(with_length(5, b"1"))
    client.shutdown(socket.SHUT_WR)
    assert worker.handle(conn) == ("ran", with_length(5, b"1"))  # gunicorn meets the end


def test_a_request_over_the_buffer_limit_is_handed_on(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, server = pair
    monkeypatch.setattr(gunicorn_worker, "BUFFER_LIMIT", 100)
    conn = connection(server)
    head = with_length(1000, b"")
    client.sendall(head + b"x" * (99 - len(head)))
    assert worker.handle(conn) is gthread._DEFER  # 99 bytes: under the limit
    client.sendall(b"x" * 50)
    ran, buffered = worker.handle(conn)
    assert (ran, len(buffered)) == ("ran", 100)  # and no more taken in than the limit


def test_expect_100_continue_is_answered_once(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(HEAD + b"Expect: 100-Continue\r\nContent-Length: 2\r\n\r\n")
    assert worker.handle(conn) is gthread._DEFER
    client.settimeout(READ_TIMEOUT_SECONDS)
    assert client.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.sendall(b"1")
    assert worker.handle(conn) is gthread._DEFER
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(4096)  # not said twice
    client.sendall(b"2")
    assert worker.handle(conn)[0] == "ran"


def test_a_deferred_request_waits_until_its_deadline_not_keepalive(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(with_length(5, b"1"))
    assert worker.handle(conn) is gthread._DEFER
    done: Future[object] = Future()
    done.set_result(gthread._DEFER)
    worker.finish_request(conn, done)
    assert conn.timeout == conn.read_started + DEADLINE
    assert list(worker.pending_conns) == [conn]


def test_an_idle_deferred_connection_keeps_gunicorns_keepalive(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    conn = connection(pair[1])
    assert worker.handle(conn) is gthread._DEFER
    done: Future[object] = Future()
    done.set_result(gthread._DEFER)
    before = time.monotonic()
    worker.finish_request(conn, done)
    assert before + worker.cfg.keepalive <= conn.timeout <= time.monotonic() + worker.cfg.keepalive


def test_a_failed_handling_is_closed_as_gunicorn_does(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    conn = connection(pair[1])
    conn.read_started = time.monotonic()
    failed: Future[object] = Future()
    failed.set_exception(RuntimeError("boom"))
    worker.nr_conns = 1
    worker.finish_request(conn, failed)
    assert (worker.nr_conns, list(worker.pending_conns)) == (0, [])


def test_overdue_connections_are_closed_a_request_under_way_with_408(
    worker: BufferingThreadWorker, clock: Clock
) -> None:
    pairs = [socket.socketpair() for _ in range(5)]
    conns = [connection(server) for _, server in pairs]
    now = clock.now
    # Out of order on purpose: a request's deadline not yet due, one due exactly now, an
    # idle connection past its keepalive, one never handled (no read_started at all), and
    # one past due that is not registered with the poller.
    conns[0].timeout, conns[0].read_started = now + 0.001, now
    conns[1].timeout, conns[1].read_started = now, now - DEADLINE
    conns[2].timeout, conns[2].read_started = now - 1, None
    conns[3].timeout = now - 1
    conns[4].timeout, conns[4].read_started = now - 1, None
    for conn in conns:
        conn.sock.setblocking(False)
        worker.pending_conns.append(conn)
    for conn in conns[:4]:
        worker.poller.register(conn.sock, selectors.EVENT_READ)
    worker.nr_conns = 7
    worker.murder_pending()
    assert (list(worker.pending_conns), worker.nr_conns) == ([conns[0]], 3)
    assert received(pairs[1][0]) == gunicorn_worker.timeout_response(DEADLINE)
    for client, _ in pairs[2:]:
        assert received(client) == b""  # closed without an answer
    assert worker.poller.get_map().keys() == {conns[0].sock.fileno()}
    for client, server in pairs:
        client.close()
        server.close()


def test_an_overdue_connection_already_closed_is_dropped(worker: BufferingThreadWorker, clock: Clock) -> None:
    client, server = socket.socketpair()
    conn = connection(server)
    conn.timeout, conn.read_started = clock.now - 1, None
    worker.pending_conns.append(conn)
    worker.nr_conns = 1
    server.close()  # its fileno is -1: selectors refuse it with ValueError
    worker.murder_pending()
    assert (list(worker.pending_conns), worker.nr_conns) == ([], 0)
    client.close()


def test_the_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_READ_DEADLINE_SECONDS", "3")
    monkeypatch.setattr(gthread.ThreadWorker, "__init__", lambda self, *args, **kwargs: None)
    assert BufferingThreadWorker().read_deadline == 3.0
    monkeypatch.delenv("GUNICORN_READ_DEADLINE_SECONDS")
    assert BufferingThreadWorker().read_deadline == gunicorn_worker.READ_DEADLINE_SECONDS == 10


def test_the_worker_is_made_as_gthread_is(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[object] = []
    monkeypatch.setattr(
        gthread.ThreadWorker, "__init__", lambda self, *args, **kwargs: given.append((args, kwargs))
    )
    BufferingThreadWorker(1, 2, age=3)
    assert given == [((1, 2), {"age": 3})]


def test_tls_connections_are_left_to_gthread(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    worker.cfg.set("certfile", "/nonexistent/cert.pem")
    conn = connection(pair[1])
    assert worker.handle(conn) == ("ran", conn)  # untouched: no parser made, nothing read


def test_http2_connections_are_handed_on(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    conn = connection(pair[1])
    conn.init()
    conn.is_http2 = True
    pair[0].sendall(HEAD)
    assert worker.handle(conn) == ("ran", b"")  # nothing buffered by us


def test_a_socket_error_is_handed_on_for_gunicorn_to_meet(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(HEAD)
    assert worker.handle(conn) is gthread._DEFER
    server.close()  # recv now fails (EBADF)
    assert worker.handle(conn) == ("ran", HEAD)


def test_100_continue_in_a_body_is_not_an_expectation(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    client.sendall(with_length(100, b"Expect: 100-continue\r\n\r\n"))
    assert worker.handle(conn) is gthread._DEFER
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(4096)


def fill_send_buffer(sock: socket.socket) -> None:
    """Send until the kernel takes no more (the peer reads nothing)."""
    sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            sock.send(b"x" * 65536)


# A non-blocking call takes microseconds; a blocking one would wait for a reader that never comes.
SEND_TIMEOUT_SECONDS = 2.0


def returns_in_time(call: Callable[[], object]) -> object:
    """call()'s result, failing the test if it blocks SEND_TIMEOUT_SECONDS (a thread, so a hang ends)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=SEND_TIMEOUT_SECONDS)


def test_100_continue_never_blocks_on_a_full_send_buffer(
    worker: BufferingThreadWorker, pair: tuple[socket.socket, socket.socket]
) -> None:
    client, server = pair
    conn = connection(server)
    conn.init()
    fill_send_buffer(server)
    server.setblocking(True)  # as gunicorn leaves it in a thread
    client.sendall(HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    try:
        assert returns_in_time(lambda: worker.handle(conn)) is gthread._DEFER
    finally:
        client.close()  # ends a blocked send, if any
    assert conn.continued is True


def test_refusing_never_blocks_on_a_full_send_buffer(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    fill_send_buffer(server)
    server.setblocking(True)
    try:
        returns_in_time(lambda: gunicorn_worker._refuse(server, DEADLINE))
    finally:
        client.close()
    assert server.fileno() == -1  # closed


def test_refusing_a_socket_that_is_not_connected_raises_nothing() -> None:
    sock = socket.socket()
    gunicorn_worker._refuse(sock, DEADLINE)
    assert sock.fileno() == -1

"""The recording proxy against real servers on 127.0.0.1: what passes, what is recorded, doubles."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import time

import pytest
from pytest_microstack._exchanges.proxy import Recorder, parse_args

from unit.proxy_servers import (
    RunningProxy,
    echo_server,
    read_all,
    read_until,
    refusing_port,
    running_proxy,
    scripted_server,
)


def test_keep_alive_requests_pass_and_are_recorded_in_order() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        client = proxy.client()
        client.request("GET", "/first?x=1", headers={"X-Token": "t1"})
        first = client.getresponse()
        assert json.loads(first.read())["path"] == "/first?x=1"
        client.request("POST", "/second", body=b"hello")
        second = client.getresponse()
        assert json.loads(second.read())["body"] == "hello"
        client.close()
        records = proxy.finished(2)
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/first?x=1", 200),
        ("POST", "/second", 200),
    ]
    first_record, second_record = records
    assert first_record["caller"] == "127.0.0.1"
    assert first_record["service"] == "svc"
    assert ["X-Token", "t1"] in first_record["request_headers"]
    assert ["Content-Type", "application/json"] in first_record["response_headers"]
    assert second_record["request_size"] == 5
    assert second_record["request_body"] == "hello"
    assert second_record["response_size"] == len(second_record["response_body"]) > 0
    assert first_record["start"] <= second_record["start"]
    assert first_record["duration_ms"] > 0
    assert first_record["conn"] == second_record["conn"]  # one kept-alive connection


def test_only_the_first_kib_of_a_body_is_kept_but_the_whole_is_counted_and_passed() -> None:
    body = b"a" * 3000
    with echo_server() as port, running_proxy(port) as proxy:
        client = proxy.client()
        client.request("PUT", "/big", body=body)
        answer = json.loads(client.getresponse().read())
        client.close()
        (record,) = proxy.finished(1)
    assert answer["body"] == body.decode()
    assert record["request_size"] == 3000
    assert record["request_body"] == "a" * 1024
    assert len(record["response_body"]) == 1024
    assert record["response_size"] > 3000


def _chunked_service(connection: socket.socket) -> None:
    """Reads one chunked request, answers in chunks with a trailer."""
    read_until(connection, b"0\r\n\r\n")
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    read_until(connection, b"never")  # until the caller closes


def test_chunked_bodies_pass_unchanged_both_ways_and_count_their_payload() -> None:
    request = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    with scripted_server(_chunked_service) as port, running_proxy(port) as proxy:
        with proxy.connect() as sock:
            sock.sendall(request)
            answer = read_until(sock, b"yes\r\n\r\n")
        (record,) = proxy.finished(1)
    assert answer.endswith(b"\r\n\r\n4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nX-Trailer: yes\r\n\r\n")
    assert record["request_size"] == 5
    assert record["request_body"] == "hello"
    assert record["response_size"] == 7
    assert record["response_body"] == "abcdefg"


def test_pipelined_requests_get_their_responses_in_order() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        with proxy.connect() as sock:
            sock.sendall(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(3)))
            data = read_until(sock, b'"/p2"')
        records = proxy.finished(3)
    assert data.index(b'"/p0"') < data.index(b'"/p1"') < data.index(b'"/p2"')
    assert [record["path"] for record in records] == ["/p0", "/p1", "/p2"]


def test_a_head_response_has_no_body_even_with_a_content_length() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        client = proxy.client()
        client.request("HEAD", "/h")
        response = client.getresponse()
        assert response.read() == b""
        client.request("GET", "/after-head")  # the connection is still in step
        assert json.loads(client.getresponse().read())["path"] == "/after-head"
        client.close()
        records = proxy.finished(2)
    assert records[0]["response_size"] == 0
    assert records[1]["path"] == "/after-head"


def test_100_continue_reaches_the_caller_before_it_sends_the_body() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        with proxy.connect() as sock:
            sock.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
            interim = read_until(sock, b"\r\n\r\n")
            sock.sendall(b"ok")
            final = read_until(sock, b'"body": "ok"')
        (record,) = proxy.finished(1)
    assert interim.startswith(b"HTTP/1.1 100")
    assert b"200 OK" in final
    assert record["status"] == 200


def test_a_body_that_runs_until_close_is_passed_then_the_connection_closes() -> None:
    def service(connection: socket.socket) -> None:
        read_until(connection, b"\r\n\r\n")
        connection.sendall(b"HTTP/1.0 200 OK\r\n\r\nall of it")
        connection.shutdown(socket.SHUT_WR)

    with scripted_server(service) as port, running_proxy(port) as proxy:
        with proxy.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = read_all(sock)
        (record,) = proxy.finished(1)
    assert data.endswith(b"\r\n\r\nall of it")
    assert record["response_size"] == len(b"all of it")


def _request_and_read_all(proxy: RunningProxy) -> bytes:
    with proxy.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return read_all(sock)


def test_a_refused_service_resets_the_callers_connection() -> None:
    with refusing_port() as port, running_proxy(port) as proxy:
        # The reset can beat the caller's own connect() back (a busy machine), or its request.
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            _request_and_read_all(proxy)
        (record,) = proxy.finished(1)
    assert "could not connect" in record["error"]


def test_a_service_closing_an_idle_connection_closes_the_callers() -> None:
    def service(connection: socket.socket) -> None:
        read_until(connection, b"\r\n\r\n")
        connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        time.sleep(0.1)  # the service's keep-alive timeout, short

    with scripted_server(service) as port, running_proxy(port) as proxy, proxy.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 204")
        assert read_all(sock) == b""  # a clean close (FIN), not a reset, and not silence


def test_a_service_dying_mid_response_resets_the_caller_and_is_recorded() -> None:
    def service(connection: socket.socket) -> None:
        read_until(connection, b"\r\n\r\n")
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")

    with scripted_server(service) as port, running_proxy(port) as proxy:
        with proxy.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                read_all(sock)
        (record,) = proxy.finished(1)
    assert "93 bytes before the body's end" in record["error"]


def test_bytes_that_are_not_http_pass_through_unrecorded() -> None:
    def echo(connection: socket.socket) -> None:
        while data := connection.recv(65536):
            connection.sendall(data)

    with scripted_server(echo) as port, running_proxy(port) as proxy:
        with proxy.connect() as sock:
            sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
            assert read_until(sock, b"all\r\n\r\n") == b"\x16\x03\x01 not http at all\r\n\r\n"
        assert proxy.records() == []


def test_tcp_mode_records_connections_with_byte_counts() -> None:
    def echo(connection: socket.socket) -> None:
        while data := connection.recv(65536):
            connection.sendall(data + data)

    with scripted_server(echo) as port, running_proxy(port, mode="tcp") as proxy:
        with proxy.connect() as sock:
            sock.sendall(b"12345")
            assert read_until(sock, b"1234512345") == b"1234512345"
            sock.shutdown(socket.SHUT_WR)
            assert read_all(sock) == b""
        (record,) = proxy.finished(1)
    assert (record["kind"], record["sent"], record["received"]) == ("tcp", 5, 10)
    assert record["caller"] == "127.0.0.1"


def test_records_after_a_sequence_number_are_only_the_newer_ones() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        client = proxy.client()
        for path in ("/a", "/b", "/c"):
            client.request("GET", path)
            client.getresponse().read()
        client.close()
        proxy.finished(3)
        assert [record["path"] for record in proxy.records(after=1)] == ["/b", "/c"]
        third = proxy.records(after=2)[0]["start"]
        status, answer = proxy.call_control("GET", f"/records?since={third!r}")
        assert [record["path"] for record in answer["records"]] == ["/c"]
        status, answer = proxy.call_control("GET", "/records?after=x")
    assert (status, answer) == (400, {"error": "after and since must be numbers"})


def test_the_recorder_keeps_the_newest_and_counts_what_it_dropped() -> None:
    recorder = Recorder("svc", kept=2)
    for index in range(3):
        recorder.finish(recorder.start({"path": f"/{index}", "start": float(index)}))
    answer = recorder.after(0)
    assert [record["path"] for record in answer["records"]] == ["/1", "/2"]
    assert (answer["seq"], answer["dropped"]) == (3, 1)


def test_the_control_port_refuses_bad_rules_and_unknown_paths() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        assert proxy.call_control("PUT", "/rules", [{"method": "GET"}])[0] == 400  # no path
        assert proxy.call_control("PUT", "/rules", [{"path": "/x", "respond": {"status": 42}}])[0] == 400
        assert proxy.call_control("GET", "/nothing") == (404, {"error": "no GET /nothing"})
        assert proxy.call_control("GET", "/health") == (200, {"service": "svc", "mode": "http"})


def test_the_program_refuses_an_upstream_without_a_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--service", "s", "--listen", "1", "--control", "2", "--upstream", "nohost"])
    assert "--upstream must be HOST:PORT" in capsys.readouterr().err


# Doubles: the proxy answers as a rule says.


def _rule(path: str, method: str = "GET", nth: int | None = None, **respond: object) -> dict[str, object]:
    if "body" in respond:
        respond["body"] = base64.b64encode(respond["body"]).decode()  # type: ignore[arg-type]
    return {"id": f"{method} {path}", "method": method, "path": path, "nth": nth, "respond": respond}


def test_a_double_answers_matching_requests_and_the_rest_reach_the_service() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/users/*", status=500, body=b"{broken", headers=[["X-Double", "1"]]))
        client = proxy.client()
        client.request("GET", "/users/authenticate?x=1")
        doubled = client.getresponse()
        assert (doubled.status, doubled.read(), doubled.getheader("X-Double")) == (500, b"{broken", "1")
        client.request("POST", "/users/authenticate", body=b"x")  # another method: the real service
        assert json.loads(client.getresponse().read())["method"] == "POST"
        client.request("GET", "/products")  # another path: the real service
        assert client.getresponse().status == 200
        client.close()
        records = proxy.finished(3)
    assert [record.get("double") for record in records] == ["GET /users/*", None, None]
    assert records[0]["status"] == 500


def test_a_double_for_the_nth_call_only() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/n", nth=2, status=503))
        client = proxy.client()
        statuses = []
        for _ in range(3):
            client.request("GET", "/n")
            response = client.getresponse()
            response.read()
            statuses.append(response.status)
        client.close()
    assert statuses == [200, 503, 200]


def test_pass_through_with_a_changed_status_keeps_the_real_body() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/p", pass_status=502))
        client = proxy.client()
        client.request("GET", "/p")
        response = client.getresponse()
        assert (response.status, json.loads(response.read())["path"]) == (502, "/p")
        client.close()
        (record,) = proxy.finished(1)
    assert (record["status"], record["real_status"]) == (502, 200)


def test_a_delay_before_the_headers() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/slow", delay=0.3, status=200, body=b"late"))
        client = proxy.client()
        started = time.monotonic()
        client.request("GET", "/slow")
        response = client.getresponse()  # returns once the head arrived
        waited = time.monotonic() - started
        assert response.read() == b"late"
        client.close()
    assert 0.3 <= waited < 5.0  # upper bound: only that it is not hours (a loaded machine)


def test_a_trickled_body_arrives_whole_at_about_its_rate() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/t", rate=200, body=b"x" * 100))
        client = proxy.client()
        client.request("GET", "/t")
        response = client.getresponse()
        started = time.monotonic()
        assert response.read() == b"x" * 100
        took = time.monotonic() - started
        client.close()
    assert 0.4 <= took < 5.0  # 100 bytes at 200 bytes/s: about 0.5 s


def test_a_reset_mid_body() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/r", body=b"0123456789", reset_after=4))
        with proxy.connect() as sock:
            sock.sendall(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
            data = read_until(sock, b"0123")
            with pytest.raises(ConnectionResetError):
                read_all(sock)
        (record,) = proxy.finished(1)
    assert data.endswith(b"\r\n\r\n0123")
    assert b"Content-Length: 10" in data
    assert record["error"] == "reset after 4 body bytes (double)"


def test_a_close_with_no_response() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/c", method="POST", close=True))
        with proxy.connect() as sock:
            sock.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            assert read_all(sock) == b""
        (record,) = proxy.finished(1)
    assert record["request_body"] == "abc"


def test_a_wrong_content_length_then_the_connection_closes() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/w", body=b"short", content_length=50))
        with proxy.connect() as sock:
            sock.sendall(b"GET /w HTTP/1.1\r\nHost: x\r\n\r\n")
            data = read_all(sock)
    assert b"Content-Length: 50\r\n" in data
    assert data.endswith(b"\r\n\r\nshort")


def test_a_redirect_is_a_status_with_a_location() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/old", status=307, headers=[["Location", "/new"]]))
        client = proxy.client()
        client.request("GET", "/old")
        response = client.getresponse()
        response.read()
        client.close()
    assert (response.status, response.getheader("Location")) == (307, "/new")


def test_removing_the_rules_brings_the_real_service_back() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/x", status=500))
        assert proxy.call_control("GET", "/rules") == (200, [{"id": "GET /x", "matched": 0}])
        assert proxy.call_control("DELETE", "/rules") == (200, [])
        client = proxy.client()
        client.request("GET", "/x")
        assert client.getresponse().status == 200
        client.close()


def test_a_doubled_answer_keeps_its_place_among_pipelined_requests() -> None:
    with echo_server() as port, running_proxy(port) as proxy:
        proxy.set_rules(_rule("/d", status=418, body=b"teapot"))
        with proxy.connect() as sock:
            requests = (f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for path in ("/a", "/d", "/b"))
            sock.sendall(b"".join(requests))
            data = read_until(sock, b'"/b"')
    assert data.index(b'"/a"') < data.index(b"teapot") < data.index(b'"/b"')


def test_a_request_the_proxy_cannot_frame_reaches_the_service_as_it_is() -> None:
    def service(connection: socket.socket) -> None:
        received = read_until(connection, b"\r\n\r\n")
        refusal = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        connection.sendall(refusal + received)

    with scripted_server(service) as port, running_proxy(port) as proxy, proxy.connect() as sock:
        request = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
        sock.sendall(request)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert answer.endswith(request)


def test_an_answer_before_the_whole_body_reaches_the_caller_that_is_still_sending() -> None:
    def service(connection: socket.socket) -> None:
        read_until(connection, b"\r\n\r\n")
        too_large = b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        connection.sendall(too_large)
        connection.shutdown(socket.SHUT_WR)
        read_all(connection)  # as gunicorn does: the rest is read and dropped, never reset

    body = b"x" * 4_000_000  # more than the kernel's buffers hold: still being sent when the service closes
    with scripted_server(service) as port, running_proxy(port) as proxy, proxy.connect() as sock:
        sock.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        with contextlib.suppress(OSError):
            sock.sendall(body)
        assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 413")


TOO_LARGE = b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def test_an_early_answer_survives_the_service_resetting_the_connection() -> None:
    """The service answers, then closes with the body unread: its kernel resets the proxy's connection.

    Repeated, because whether the reset comes before the proxy read the answer
    is a race; without the proxy, the caller reads the answer every time.
    """

    def service(connection: socket.socket) -> None:
        read_until(connection, b"\r\n\r\n")
        connection.sendall(TOO_LARGE)

    body = b"x" * 4_000_000
    with scripted_server(service) as port, running_proxy(port) as proxy:
        for _ in range(20):
            with proxy.connect() as sock:
                sock.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
                with contextlib.suppress(OSError):
                    sock.sendall(body)
                assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 413")

"""user-service failures as product-service's callers see them: fast, JSON, named."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from product_helpers import AUTH_PATH, BEARER, FakeUserService, KeepAliveUserService
from product_service.user_client import UserServiceClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ENDPOINTS = [
    pytest.param("POST", "/products", {"json": {"name": "Pen", "price": 1}}, id="create"),
    pytest.param("GET", "/products/validate-user", {}, id="validate-user"),
]


def _call(app: Flask, method: str, path: str, kwargs: dict[str, Any], **extra: Any) -> Any:
    headers = {**BEARER, **extra.pop("headers", {})}
    started = time.perf_counter()
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    return response, time.perf_counter() - started


@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
@pytest.mark.parametrize(
    ("upstream", "needle"),
    [
        pytest.param({"status": 500}, "HTTP 500", id="500"),
        pytest.param({"status": 502}, "HTTP 502", id="502"),
        pytest.param({"status": 503}, "HTTP 503", id="503"),
        pytest.param({"status": 403}, "unexpected HTTP 403", id="403"),
        pytest.param({"status": 404}, "unexpected HTTP 404", id="404"),
        pytest.param({"status": 302}, "unexpected HTTP 302", id="redirect-not-followed"),
        pytest.param({"status": 200, "raw": "<html>"}, "invalid response", id="200-not-json"),
        pytest.param(
            {"status": 200, "body": {"ok": True}},
            "invalid response",
            id="200-wrong-shape",
        ),
        pytest.param({"status": 401, "raw": "nope"}, None, id="401-not-json"),
    ],
)
def test_unusable_user_service_answers_become_502_or_401(
    app: Flask,
    users: FakeUserService,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    upstream: dict[str, Any],
    needle: str | None,
) -> None:
    users.answers(**upstream)
    response, _ = _call(app, method, path, kwargs)
    if needle is None:  # a 401 is still a 401, even with a body we cannot read
        assert response.status_code == 401
        assert response.json == {"error": "unauthorized"}
        return
    assert response.status_code == 502
    assert response.json["dependency"] == "user-service"
    assert needle in response.json["error"]
    assert len(users.requests()) == 1  # no retries on answered requests


@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
def test_slow_user_service_is_504_within_the_read_timeout(
    make_app: Callable[..., Flask],
    users: FakeUserService,
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    release = threading.Event()

    def stall(_request: Request) -> Response:
        release.wait(5)  # released as soon as the assertions are done
        return Response("{}", status=200, mimetype="application/json")

    users.handler(stall)
    app = make_app(USER_SERVICE_READ_TIMEOUT=0.3)
    try:
        response, elapsed = _call(app, method, path, kwargs)
    finally:
        release.set()
    assert response.status_code == 504
    assert response.json == {
        "error": "user-service did not respond within 0.3s",
        "dependency": "user-service",
    }
    assert elapsed < 1.3
    assert len(users.requests()) <= 1  # a read timeout is never retried


@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
@pytest.mark.parametrize(
    "url",
    [
        pytest.param("refused", id="connection-refused"),
        pytest.param("http://user-service.invalid:5000", id="name-does-not-resolve"),
    ],
)
def test_unreachable_user_service_is_503_fast(
    make_app: Callable[..., Flask],
    refused_url: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    url: str,
) -> None:
    app = make_app(USER_SERVICE_URL=refused_url if url == "refused" else url)
    response, elapsed = _call(app, method, path, kwargs)
    assert response.status_code == 503
    assert response.json == {
        "error": "user-service is unreachable",
        "dependency": "user-service",
    }
    assert elapsed < 5
    # The catalogue and our readiness do not depend on user-service.
    assert app.test_client().get("/products").status_code == 200
    assert app.test_client().get("/ready").status_code == 200


def test_client_retries_only_connection_errors_for_idempotent_methods() -> None:
    retry = UserServiceClient("http://x", 1.0, 2.0, retries=3).retry
    assert (retry.connect, retry.read, retry.status, retry.other, retry.redirect) == (3, False, 0, 0, 0)
    assert retry.allowed_methods == frozenset({"GET", "HEAD"})
    assert retry.backoff_factor == 0.1


def test_each_thread_gets_its_own_pool() -> None:
    client = UserServiceClient("http://x", 1.0, 2.0, retries=0)
    pools: list[object] = []
    thread = threading.Thread(target=lambda: pools.append(client.pool))
    thread.start()
    thread.join()
    assert client.pool is client.pool
    assert pools[0] is not client.pool


@pytest.mark.parametrize(("method", "path", "kwargs"), ENDPOINTS)
def test_request_id_is_forwarded_and_echoed(
    app: Flask,
    users: FakeUserService,
    log_lines: Callable[[], list[dict[str, Any]]],
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    users.accepts()
    response, _ = _call(app, method, path, kwargs, headers={"X-Request-ID": "trace-abc.1"})
    assert response.headers["X-Request-ID"] == "trace-abc.1"
    (sent,) = users.requests()
    assert sent.headers["X-Request-ID"] == "trace-abc.1"
    access = [line for line in log_lines() if line["logger"] == "servicekit.access"]
    assert [line["request_id"] for line in access] == ["trace-abc.1"]


def test_generated_request_id_is_forwarded(app: Flask, users: FakeUserService) -> None:
    users.accepts()
    response = app.test_client().get("/products/validate-user", headers=BEARER)
    (sent,) = users.requests()
    assert sent.headers["X-Request-ID"] == response.headers["X-Request-ID"]
    assert len(sent.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("setup", "status"),
    [
        pytest.param(lambda users: users.answers(500), 502, id="5xx"),
        pytest.param(lambda users: None, 503, id="refused"),
    ],
)
def test_outbound_failures_are_logged_with_the_request_id(
    make_app: Callable[..., Flask],
    users: FakeUserService,
    refused_url: str,
    log_lines: Callable[[], list[dict[str, Any]]],
    setup: Callable[[FakeUserService], None],
    status: int,
) -> None:
    setup(users)
    url = users.url if status == 502 else refused_url
    app = make_app(USER_SERVICE_URL=url, USER_SERVICE_RETRIES=0)
    log_lines()
    response, _ = _call(app, "GET", "/products/validate-user", {}, headers={"X-Request-ID": "f-1"})
    assert response.status_code == status
    (failure,) = [line for line in log_lines() if line["logger"] == "product_service.user_client"]
    assert failure["level"] == "WARNING"
    assert failure["request_id"] == "f-1"
    assert failure["service"] == "product-service"
    assert failure["dependency"] == "user-service"
    assert failure["url"] == f"{url}/users/authenticate"


PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def proxy_environment(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Function scope: set every proxy variable to a URL, with no NO_PROXY exceptions."""

    def point_at(url: str) -> None:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)

    return point_at


def test_proxy_variables_are_ignored_by_default(
    make_app: Callable[..., Flask],
    users: FakeUserService,
    refused_url: str,
    proxy_environment: Callable[[str], None],
) -> None:
    proxy_environment(refused_url)  # through it, every call would be a 503
    users.accepts()
    response, _ = _call(make_app(), "GET", "/products/validate-user", {})
    assert response.status_code == 200, response.json
    (sent,) = users.requests()  # the token reached user-service itself
    assert sent.headers["Authorization"] == BEARER["Authorization"]


def test_proxy_variables_are_used_when_trusted(
    make_app: Callable[..., Flask],
    users: FakeUserService,
    proxy_environment: Callable[[str], None],
) -> None:
    proxy = HTTPServer(host="127.0.0.1", port=0)
    proxy.expect_request(AUTH_PATH, method="GET").respond_with_json({"user_id": 1, "username": "via-proxy"})
    proxy.start()
    try:
        proxy_environment(proxy.url_for("/").rstrip("/"))
        app = make_app(USER_SERVICE_TRUST_ENV_PROXY=True)
        response, _ = _call(app, "GET", "/products/validate-user", {})
        (sent,) = [request for request, _ in proxy.log]
    finally:
        proxy.clear()
        proxy.stop()
    assert response.status_code == 200, response.json
    assert response.json["user"]["username"] == "via-proxy"
    assert sent.headers["Host"] == users.url.removeprefix("http://")  # asked on user-service's behalf
    assert users.requests() == []


def test_no_proxy_exempts_user_service_even_when_trusted(
    make_app: Callable[..., Flask],
    users: FakeUserService,
    refused_url: str,
    proxy_environment: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy_environment(refused_url)
    monkeypatch.setenv("NO_PROXY", f"example.org, {urlsplit(users.url).hostname}")
    users.accepts()
    response, _ = _call(make_app(USER_SERVICE_TRUST_ENV_PROXY=True), "GET", "/products/validate-user", {})
    assert response.status_code == 200, response.json
    assert len(users.requests()) == 1


@pytest.fixture
def keepalive_users() -> Iterator[KeepAliveUserService]:
    """Function scope: a fake user-service that keeps connections open (werkzeug's closes them)."""
    with KeepAliveUserService() as server:
        yield server


@pytest.mark.parametrize(("idle", "connections"), [(0.0, 3), (30.0, 1)])
def test_connections_are_kept_only_when_keepalive_is_on(
    make_app: Callable[..., Flask], keepalive_users: KeepAliveUserService, idle: float, connections: int
) -> None:
    app = make_app(USER_SERVICE_URL=keepalive_users.url, USER_SERVICE_KEEPALIVE_IDLE=idle)
    for _ in range(3):
        assert app.test_client().get("/products/validate-user", headers=BEARER).status_code == 200
    assert len(keepalive_users.peers) == 3
    assert len(set(keepalive_users.peers)) == connections


def test_with_keepalive_off_each_call_has_its_own_connection_whatever_the_server_does(
    make_app: Callable[..., Flask],
) -> None:
    """The client closes its own socket: under load a server's late close raced the next call (a 503)."""
    with KeepAliveUserService(ignore_close=True) as server:
        app = make_app(USER_SERVICE_URL=server.url, USER_SERVICE_KEEPALIVE_IDLE=0.0)
        for _ in range(3):
            assert app.test_client().get("/products/validate-user", headers=BEARER).status_code == 200
        assert len(set(server.peers)) == len(server.peers) == 3


def test_a_connection_idle_for_longer_than_the_limit_is_replaced(
    make_app: Callable[..., Flask], keepalive_users: KeepAliveUserService
) -> None:
    app = make_app(USER_SERVICE_URL=keepalive_users.url, USER_SERVICE_KEEPALIVE_IDLE=30.0)
    client = app.extensions["user_client"]
    for _ in range(2):
        assert app.test_client().get("/products/validate-user", headers=BEARER).status_code == 200
    client._local.last_used -= 31  # as if the last call was 31 s ago
    assert app.test_client().get("/products/validate-user", headers=BEARER).status_code == 200
    first, second, third = keepalive_users.peers
    assert first == second != third


def _one_answer_server(answer: bytes) -> Iterator[str]:
    """A server on 127.0.0.1 that reads one request, writes `answer` and closes, for every call."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        pytest.param(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"user_id": 1,',
            502,
            "user-service's answer was cut off",
            id="cut-off-mid-body",
        ),
        pytest.param(b"", 503, "user-service is unreachable", id="closed-with-no-answer"),
    ],
)
def test_an_answer_cut_off_mid_body_is_a_bad_gateway_and_no_answer_is_unreachable(
    make_app: Callable[..., Flask], answer: bytes, status: int, error: str
) -> None:
    for url in _one_answer_server(answer):
        app = make_app(USER_SERVICE_URL=url)
        response, _ = _call(app, "GET", "/products/validate-user", {})
        assert response.status_code == status
        assert response.json == {"error": error, "dependency": "user-service"}

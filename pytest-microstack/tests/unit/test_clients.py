"""pytest_microstack._core.clients: ServiceClient's base URL, X-Request-ID and default timeout."""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import requests
from pytest_httpserver import HTTPServer
from pytest_microstack._core import clients
from pytest_microstack._core.clients import (
    DEFAULT_TIMEOUT,
    IDLE_REUSE,
    ServiceClient,
    close_idle_connections,
    request_id_prefix,
)
from werkzeug.wrappers import Request, Response


def base_of(httpserver: HTTPServer) -> str:
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def client(httpserver: HTTPServer) -> Iterator[ServiceClient]:
    with ServiceClient("user-service", lambda: base_of(httpserver), request_id_prefix="t-abc") as made:
        yield made


def seen_request_ids(httpserver: HTTPServer) -> list[str | None]:
    return [request.headers.get("X-Request-ID") for request, _ in httpserver.log]


def test_relative_paths_go_to_the_base_url(httpserver: HTTPServer, client: ServiceClient) -> None:
    httpserver.expect_request("/users/7", method="GET", query_string="full=1").respond_with_json({"id": 7})

    response = client.get("/users/7", params={"full": 1})

    assert response.status_code == 200
    assert response.json() == {"id": 7}
    assert response.url == f"{base_of(httpserver)}/users/7?full=1"


def test_base_url_property(client: ServiceClient, httpserver: HTTPServer) -> None:
    assert client.base_url == base_of(httpserver)


def test_the_base_url_is_looked_up_on_every_call(httpserver: HTTPServer) -> None:
    bases = iter(["http://127.0.0.1:1", base_of(httpserver)])
    httpserver.expect_request("/health").respond_with_data("ok")

    with ServiceClient("api", lambda: next(bases), timeout=2) as moving:
        with pytest.raises(requests.ConnectionError):
            moving.get("/health")
        assert moving.get("/health").text == "ok", "a service restarted on a new port is still reached"


def test_absolute_urls_are_used_as_they_are(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/elsewhere").respond_with_data("there")

    def no_base() -> str:
        raise AssertionError("the base URL must not be needed")

    with ServiceClient("api", no_base) as absolute:
        assert absolute.get(httpserver.url_for("/elsewhere")).text == "there"


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_every_method_carries_a_fresh_request_id(
    httpserver: HTTPServer, client: ServiceClient, method: str
) -> None:
    httpserver.expect_request("/x", method=method.upper()).respond_with_data("")

    getattr(client, method)("/x")
    first = client.last_request_id
    getattr(client, method)("/x")

    assert seen_request_ids(httpserver) == ["t-abc-1", "t-abc-2"]
    assert (first, client.last_request_id) == ("t-abc-1", "t-abc-2")


def test_a_given_request_id_is_kept(httpserver: HTTPServer, client: ServiceClient) -> None:
    httpserver.expect_request("/x").respond_with_data("")

    client.get("/x", headers={"X-Request-ID": "mine-42", "Accept": "text/plain"})
    client.get("/x")

    given, generated = seen_request_ids(httpserver)
    assert given == "mine-42"
    assert generated is not None
    assert generated.startswith("t-abc-")
    assert httpserver.log[0][0].headers["Accept"] == "text/plain"
    assert client.last_request_id == generated


def test_a_given_request_id_is_kept_whatever_the_header_case(
    httpserver: HTTPServer, client: ServiceClient
) -> None:
    httpserver.expect_request("/x").respond_with_data("")

    client.get("/x", headers={"x-request-id": "mine-42"})

    assert seen_request_ids(httpserver) == ["mine-42"]
    assert client.last_request_id == "mine-42"


def test_caller_headers_are_not_modified(httpserver: HTTPServer, client: ServiceClient) -> None:
    httpserver.expect_request("/x").respond_with_data("")
    headers = {"Authorization": "Bearer t"}

    client.get("/x", headers=headers)

    assert headers == {"Authorization": "Bearer t"}
    assert httpserver.log[0][0].headers["Authorization"] == "Bearer t"


def test_the_default_timeout_applies_to_a_slow_service(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    try:
        with (
            ServiceClient("api", lambda: base_of(httpserver), timeout=0.2) as impatient,
            pytest.raises(requests.Timeout),
        ):
            impatient.get("/slow")
    finally:
        release.set()  # let the test server's thread go


@pytest.mark.parametrize(
    ("client_timeout", "call_kwargs", "expected"),
    [
        pytest.param(None, {}, DEFAULT_TIMEOUT, id="default"),
        pytest.param(2.5, {}, 2.5, id="client-timeout"),
        pytest.param(2.5, {"timeout": (1, 30)}, (1, 30), id="per-call-override"),
        pytest.param(2.5, {"timeout": None}, None, id="explicit-none-kept"),
    ],
)
def test_timeout_reaching_requests(
    monkeypatch: pytest.MonkeyPatch, client_timeout: float | None, call_kwargs: dict[str, Any], expected: Any
) -> None:
    seen: list[dict[str, Any]] = []

    def fake_request(self: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        seen.append({"method": method, "url": url, **kwargs})
        return requests.Response()

    monkeypatch.setattr(requests.Session, "request", fake_request)
    options: dict[str, Any] = {} if client_timeout is None else {"timeout": client_timeout}

    with ServiceClient("api", lambda: "http://svc:1", **options) as fake:
        fake.post("/things", json={"a": 1}, **call_kwargs)

    [call] = seen
    assert call["timeout"] == expected
    assert (call["method"], call["url"]) == ("POST", "http://svc:1/things")
    assert call["json"] == {"a": 1}


@pytest.mark.parametrize(
    ("test_name", "expected_start"),
    [
        pytest.param("test_login", "test_login-", id="plain"),
        pytest.param("test_x[user-service one/two]", "test_x-user-service-one-two-", id="parametrized"),
        pytest.param("[weird]", "weird-", id="strips-edge-dashes"),
        pytest.param("t" * 200, "t" * 80 + "-", id="truncated"),
    ],
)
def test_request_id_prefix(test_name: str, expected_start: str) -> None:
    prefix = request_id_prefix(test_name)
    assert prefix.startswith(expected_start)
    assert re.fullmatch(r"[A-Za-z0-9._-]+-[0-9a-f]{6}", prefix)
    assert prefix[len(expected_start) :] != ""
    assert request_id_prefix(test_name) != prefix, "unique per call"


def test_repr_names_the_service() -> None:
    with ServiceClient("product-service", lambda: "http://x") as named:
        assert repr(named) == "<ServiceClient product-service>"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def proxy_to_nowhere(monkeypatch: pytest.MonkeyPatch) -> str:
    """A CI runner's proxy settings, with no NO_PROXY: the proxy is a closed port here."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return proxy


def test_the_environment_proxy_is_not_used(
    httpserver: HTTPServer, client: ServiceClient, proxy_to_nowhere: str
) -> None:
    """Issue 18, 5: with HTTP_PROXY set, calls to the service went to the proxy (and its tokens too)."""
    httpserver.expect_request("/health").respond_with_data("ok")

    response = client.get("/health")

    assert response.status_code == 200
    assert len(httpserver.log) == 1


def test_a_proxy_the_test_sets_itself_still_applies(
    httpserver: HTTPServer, client: ServiceClient, proxy_to_nowhere: str
) -> None:
    client.proxies = {"http": proxy_to_nowhere}

    with pytest.raises(requests.exceptions.ProxyError):
        client.get("/health")

    assert httpserver.log == []


def pooled(client: ServiceClient) -> int:
    """How many connection pools the client's http:// adapter holds."""
    return len(client.get_adapter("http://").poolmanager.pools)  # type: ignore[attr-defined]


def test_close_idle_connections_closes_only_that_services_clients(httpserver: HTTPServer) -> None:
    # Names no other test's (perhaps not yet collected) client carries.
    httpserver.expect_request("/health").respond_with_json({"ok": True})
    with (
        ServiceClient("users-of-this-test", lambda: base_of(httpserver)) as users,
        ServiceClient("products-of-this-test", lambda: base_of(httpserver)) as products,
    ):
        for made in (users, products):
            assert made.get("/health").status_code == 200
            assert pooled(made) == 1

        assert close_idle_connections("users-of-this-test") == 1

        assert (pooled(users), pooled(products)) == (0, 1)
        assert users.get("/health").status_code == 200, "the client stays usable"
        assert close_idle_connections("no-such-service") == 0


class KeptAlive(http.server.BaseHTTPRequestHandler):
    """Answers every GET on a kept-alive connection (HTTP/1.1, a length), counting connections."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.client_address[1])

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def kept_alive() -> Iterator[tuple[str, list[int]]]:
    """A keep-alive server on 127.0.0.1: its base URL and the client ports of its connections."""

    class Handler(KeptAlive):
        connections: ClassVar[list[int]] = []  # this server's own

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Handler.connections
    server.shutdown()
    server.server_close()


class Clock:
    """The clients' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("idle", "connections"),
    [
        pytest.param(0.0, 1, id="at-once"),
        pytest.param(IDLE_REUSE - 0.001, 1, id="just-under"),
        pytest.param(IDLE_REUSE, 2, id="exactly"),
    ],
)
def test_a_connection_idle_too_long_is_not_reused(
    kept_alive: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch, idle: float, connections: int
) -> None:
    # The server closes idle kept-alive connections on its own timer: one idle for
    # IDLE_REUSE might be closing as the next request goes out on it (a reset).
    clock = Clock()
    monkeypatch.setattr(clients, "monotonic", clock)
    base, opened = kept_alive
    with ServiceClient("user-service", lambda: base) as client:
        assert client.get("/health").status_code == 200
        clock.now += idle
        assert client.get("/health").status_code == 200

    assert len(opened) == connections

"""Helpers shared by the product-service tests (imported, so not in conftest.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response
from werkzeug.test import EnvironBuilder, TestResponse

AUTH_PATH = "/users/authenticate"
TOKEN = "good-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
UNAUTHORIZED = {"error": "token has expired"}
CHALLENGE = 'Bearer realm="user-service", error="invalid_token"'


class FakeUserService:
    """Make pytest-httpserver answer /users/authenticate as user-service would."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def accepts(self, username: str = "alice", user_id: int = 7) -> None:
        """Answer 200 for every call, as user-service does for a valid token."""
        self.server.expect_request(AUTH_PATH, method="GET").respond_with_json(
            {"user_id": user_id, "username": username, "message": "Authenticated"}
        )

    def rejects(self) -> None:
        """Answer 401 with a JSON body and a challenge, as for an expired token."""
        self.server.expect_request(AUTH_PATH, method="GET").respond_with_json(
            UNAUTHORIZED, status=401, headers={"WWW-Authenticate": CHALLENGE}
        )

    def answers(self, status: int, body: Any = None, raw: str | None = None) -> None:
        """Answer with any status and either a JSON body or raw text."""
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        mimetype = "text/plain" if raw is not None else "application/json"
        self.server.expect_request(AUTH_PATH, method="GET").respond_with_response(
            Response(data, status=status, mimetype=mimetype)
        )

    def handler(self, func: Any) -> None:
        """Answer with a custom werkzeug handler (e.g. one that blocks)."""
        self.server.expect_request(AUTH_PATH, method="GET").respond_with_handler(func)

    def requests(self) -> list[Request]:
        """Return the requests user-service received, oldest first."""
        return [request for request, _response in self.server.log]


class KeepAliveUserService:
    """A user-service that accepts every token and keeps connections open (HTTP/1.1).

    `peers` lists the client port of each request: one port per connection.
    """

    def __init__(self, *, ignore_close: bool = False) -> None:
        self.peers: list[int] = []
        peers = self.peers

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                peers.append(self.client_address[1])
                body = json.dumps({"user_id": 7, "username": "alice"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if ignore_close:  # as a server may: keep the socket open whatever the client asked
                    self.close_connection = False

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: tests read the app's log lines."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="keepalive-users")

    def __enter__(self) -> KeepAliveUserService:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def post_chunked(
    client: FlaskClient, path: str, body: bytes, headers: dict[str, str] | None = None
) -> TestResponse:
    """POST body with Transfer-Encoding: chunked and no Content-Length, as gunicorn passes it on."""
    environ = EnvironBuilder(
        path=path,
        method="POST",
        data=body,
        content_type="application/json",
        headers=list((headers or {}).items()),
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True  # gunicorn de-chunks and ends the stream itself
    return client.open(environ)

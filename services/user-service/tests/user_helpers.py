"""Helpers shared by the user-service tests (imported, so not in conftest.py)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse

SECRET = "unit-test-secret-key-0123456789abcdef"
#: The login-failure window of the `guarded` app (seconds).
WINDOW = 900


class AuthActions:
    """The HTTP calls many tests repeat: sign up, log in, build a bearer header."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def register(self, username: str = "alice", password: str = "s3cret-pass") -> TestResponse:
        return self._client.post("/users", json={"username": username, "password": password})

    def login(self, username: str = "alice", password: str = "s3cret-pass") -> TestResponse:
        return self._client.post("/auth/token", json={"username": username, "password": password})

    def token(self, username: str = "alice", password: str = "s3cret-pass") -> str:
        """Register (if needed) and log in; return the access token."""
        self.register(username, password)
        response = self.login(username, password)
        assert response.status_code == 200, response.json
        return str(response.json["access_token"])  # type: ignore[index]

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def post_chunked(
    client: FlaskClient, path: str, body: bytes, content_type: str = "application/json"
) -> TestResponse:
    """POST body with Transfer-Encoding: chunked and no Content-Length, as gunicorn passes it on."""
    environ = EnvironBuilder(path=path, method="POST", data=body, content_type=content_type).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True  # gunicorn de-chunks and ends the stream itself
    return client.open(environ)


def client_at(app: Flask, address: str) -> AuthActions:
    """AuthActions for a client connecting from `address`, with a cookie jar of its own."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


def behind(app: Flask, forwarded_for: str) -> AuthActions:
    """A client that reaches the app through the local proxy (127.0.0.1), as forwarded_for."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return AuthActions(client)

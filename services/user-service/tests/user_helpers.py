"""Helpers shared by the user-service tests (imported, so not in conftest.py)."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

SECRET = "unit-test-secret-key-0123456789abcdef"


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

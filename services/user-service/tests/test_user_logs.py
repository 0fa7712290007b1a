"""No password, token or secret in user-service's log, whatever the caller sends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from user_helpers import SECRET, AuthActions


def test_logs_hold_no_password_token_or_secret(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(
        DEMO_USERNAME="testuser",
        DEMO_PASSWORD="demo-password-0",
        LOGIN_FAILURES_PER_ACCOUNT=2,
        LOG_LEVEL="DEBUG",
    )

    @app.get("/boom")
    def boom() -> str:
        # An exception whose text quotes the caller's credentials.
        raise RuntimeError(f"could not handle {app.config['BOOM']}")

    client = app.test_client()
    auth = AuthActions(client)
    token = auth.token("alice", "alice-password-1")
    bearer = auth.bearer(token)
    assert client.get("/users/authenticate", headers=bearer).status_code == 200
    assert client.get("/users/authenticate", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert client.get("/users/authenticate", headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert auth.login("testuser", "demo-password-0").status_code == 200
    for _ in range(2):
        assert auth.login("alice", "wrong-password-2").status_code == 401
    assert auth.login("alice", "alice-password-1").status_code == 429
    assert client.post("/users", json={"username": "x y", "password": "bad-signup-3"}).status_code == 400
    assert client.get("/nope", headers=bearer).status_code == 404
    app.config["BOOM"] = f"Authorization: Bearer {token} and {token}"
    assert client.get("/boom", headers=bearer).status_code == 500

    logged = capsys.readouterr().out
    assert logged.count('"msg"') >= 10, "the flow above was logged"
    signature = token.rsplit(".", 1)[1]
    for secret in [
        "demo-password-0",
        "alice-password-1",
        "wrong-password-2",
        "bad-signup-3",
        token,
        signature,
        SECRET,
    ]:
        assert secret not in logged

"""No token in product-service's log: not on success, not when user-service fails."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from product_helpers import FakeUserService

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJlLXNlY3JldA"


@pytest.mark.parametrize(
    ("setup", "header", "status"),
    [
        pytest.param(lambda users: users.accepts(), f"Bearer {TOKEN}", 200, id="accepted"),
        pytest.param(lambda users: users.rejects(), f"Bearer {TOKEN}", 401, id="rejected"),
        pytest.param(lambda users: users.answers(500), f"Bearer {TOKEN}", 502, id="user-service-fails"),
        pytest.param(lambda users: None, f"\xa0Bearer {TOKEN}", 401, id="unsendable-header"),
    ],
)
def test_logs_hold_no_token(
    make_app: Callable[..., Flask],
    users: FakeUserService,
    capsys: pytest.CaptureFixture[str],
    setup: Callable[[FakeUserService], None],
    header: str,
    status: int,
) -> None:
    setup(users)
    client = make_app(USER_SERVICE_RETRIES=0, LOG_LEVEL="DEBUG").test_client()
    for path in ("/products/validate-user", "/products"):
        method = "GET" if path.endswith("user") else "POST"
        response = client.open(
            path, method=method, json={"name": "Pen", "price": 1}, headers={"Authorization": header}
        )
        assert response.status_code in {status, 201 if status == 200 else status}
    logged = capsys.readouterr().out
    assert '"status"' in logged, "the requests were logged"
    assert TOKEN not in logged
    assert TOKEN.rsplit(".", 1)[1] not in logged


def test_refused_connection_log_names_no_token(
    make_app: Callable[..., Flask], refused_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_app(USER_SERVICE_URL=refused_url, USER_SERVICE_RETRIES=0).test_client()
    assert (
        client.get("/products/validate-user", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 503
    )
    logged = capsys.readouterr().out
    assert "outbound call failed" in logged
    assert TOKEN not in logged

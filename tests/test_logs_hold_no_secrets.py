"""Neither service writes a password, a token or the signing secret to its log.

The test drives every path that handles one (sign-up, good and bad logins, a
malformed login body, token checks on both services, a product created, bad
and tampered tokens), then reads both services' logs and looks for each value.
It first checks that the logs it reads hold its own requests' ids, so an empty
or unreadable log can't pass for a clean one.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

SERVICES = ("user-service", "product-service")
# The access line is written after the response is sent; docker's log driver
# takes a moment more. Generous next to either.
LOG_DEADLINE = 10.0


def logs_with(stack: Any, request_ids: dict[str, str]) -> dict[str, str]:
    """Each service's whole log, once it holds the request id last sent to it."""
    deadline = time.monotonic() + LOG_DEADLINE
    while True:
        logs = {service: stack.logs(service) for service in SERVICES}
        missing = [service for service in SERVICES if request_ids[service] not in logs[service]]
        if not missing:
            return logs
        assert time.monotonic() < deadline, f"no log line with our request id from {missing}"
        time.sleep(0.05)


def test_logs_hold_no_password_token_or_secret(stack: Any, user_service: Any, product_service: Any) -> None:
    username = f"logcheck-{secrets.token_hex(4)}"
    password = f"pw-{secrets.token_urlsafe(18)}"
    wrong_password = f"wrong-{secrets.token_urlsafe(18)}"
    login = {"username": username, "password": password}

    assert user_service.post("/users", json=login).status_code == 201
    issued = user_service.post("/auth/token", json=login)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    # The signature alone: a log that kept part of the token would still leak it.
    signature = token.rsplit(".", 1)[-1]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    for bad in (
        {"username": username, "password": wrong_password},
        {"username": f"nobody-{secrets.token_hex(4)}", "password": wrong_password},
    ):
        assert user_service.post("/auth/token", json=bad).status_code in {401, 429}
    malformed = f'{{"username": "{username}", "password": "{password}"'  # cut short: invalid JSON
    assert (
        user_service.post(
            "/auth/token", data=malformed, headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    duplicate = user_service.post("/users", json=login)
    assert duplicate.status_code == 409
    assert user_service.get("/users/authenticate", headers=auth).status_code == 200
    for bad_token in (tampered, f"{token}x", wrong_password):
        bad_auth = {"Authorization": f"Bearer {bad_token}"}
        assert user_service.get("/users/authenticate", headers=bad_auth).status_code == 401
        assert product_service.get("/products/validate-user", headers=bad_auth).status_code == 401
    assert product_service.get("/products/validate-user", headers=auth).status_code == 200
    created = product_service.post("/products", json={"name": "log check", "price": 1}, headers=auth)
    assert created.status_code == 201, created.text

    logs = logs_with(
        stack,
        {"user-service": user_service.last_request_id, "product-service": product_service.last_request_id},
    )
    secret_key = stack.environment("user-service")["SECRET_KEY"]
    sensitive = {
        "password": password,
        "wrong password": wrong_password,
        "token": token,
        "token signature": signature,
        "tampered token": tampered,
        "secret key": secret_key,
    }
    for service, text in logs.items():
        leaked = [what for what, value in sensitive.items() if value in text]
        assert not leaked, f"{service}'s log holds the {', '.join(leaked)}"

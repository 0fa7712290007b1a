"""Shared pieces of the hostile-input suite: a signed-in seller, and where each body goes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
import requests


@dataclass(frozen=True)
class Endpoint:
    """A JSON endpoint that takes a body: its service, path, a valid body and its string fields."""

    service: str
    path: str
    valid: dict[str, Any]
    needs_auth: bool = False

    @property
    def string_fields(self) -> list[str]:
        return [name for name, value in self.valid.items() if isinstance(value, str)]

    def __str__(self) -> str:
        return f"{self.service} POST {self.path}"


BODY_ENDPOINTS = (
    Endpoint("user-service", "/users", {"username": "hostile-user", "password": "long-enough-password"}),
    Endpoint("user-service", "/auth/token", {"username": "hostile-user", "password": "long-enough-password"}),
    Endpoint("product-service", "/products", {"name": "hostile product", "price": 1.5}, needs_auth=True),
)


@dataclass(frozen=True)
class Seller:
    """A user of this suite and a token of theirs."""

    username: str
    token: str


@pytest.fixture(scope="session")
def seller(stack: Any) -> Seller:
    """[session] A signed-in user, so that product-service reads bodies instead of answering 401.

    One per session: signing up and logging in costs a password hash each.
    """
    base = stack.url("user-service")
    credentials = {"username": f"hostile-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)}
    created = requests.post(f"{base}/users", json=credentials, timeout=10)
    assert created.status_code == 201, created.text
    login = requests.post(f"{base}/auth/token", json=credentials, timeout=10)
    assert login.status_code == 200, login.text
    return Seller(credentials["username"], login.json()["access_token"])


@pytest.fixture
def urls(user_service_url: str, product_service_url: str) -> dict[str, str]:
    """Each service's base URL on 127.0.0.1."""
    return {"user-service": user_service_url, "product-service": product_service_url}


def auth_headers(endpoint: Endpoint, seller: Any) -> list[tuple[str, str]]:
    """The Authorization header an endpoint needs to get as far as reading its body."""
    return [("Authorization", f"Bearer {seller.token}")] if endpoint.needs_auth else []

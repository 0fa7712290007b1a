"""Factories that create real users and products through the services' APIs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from pytest_microstack import HarnessError, ServiceClient


class FactoryError(HarnessError):
    """A factory's API call did not give what it needs; says which call and why."""


def _expect(response: Any, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise FactoryError(
            f"{what}: expected HTTP {status}, got {response.status_code} "
            f"from {response.request.method} {response.url}: {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class User:
    """A user created in user-service, with a token it issued."""

    id: int
    username: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """Headers that authenticate as this user."""
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Product:
    """A product created in product-service by `owner`."""

    id: int
    name: str
    price: float
    created_by: str
    owner: User


@dataclass
class UserFactory:
    """`make_user(**overrides)`: create a user (unique name by default) and log it in."""

    client: ServiceClient
    created: list[User] = field(default_factory=list)

    def __call__(self, **overrides: Any) -> User:
        body = {
            "username": f"user-{secrets.token_hex(4)}",
            "password": secrets.token_urlsafe(12),
            **overrides,
        }
        made = _expect(self.client.post("/users", json=body), 201, "create user")
        issued = _expect(
            self.client.post(
                "/auth/token", json={"username": body["username"], "password": body["password"]}
            ),
            200,
            f"log in as {body['username']}",
        )
        user = User(made["id"], made["username"], body["password"], issued["access_token"])
        self.created.append(user)
        return user


@dataclass
class ProductFactory:
    """`make_product(owner=None, **overrides)`: create a product as `owner` (a new user by default)."""

    client: ServiceClient
    make_user: UserFactory
    created: list[Product] = field(default_factory=list)

    def __call__(self, owner: User | None = None, **overrides: Any) -> Product:
        owner = owner or self.make_user()
        body = {"name": f"product-{secrets.token_hex(4)}", "price": 9.99, **overrides}
        made = _expect(self.client.post("/products", json=body, headers=owner.auth), 201, "create product")
        product = Product(made["id"], made["name"], made["price"], made["created_by"], owner)
        self.created.append(product)
        return product

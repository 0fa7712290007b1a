"""The seed's flow end to end: a token from user-service accepted by product-service."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_microstack import ServiceClient, Stack, wait_for

from tests.support.factories import ProductFactory, UserFactory


def test_validate_user_goes_through_user_service(
    make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()

    response = product_service.get("/products/validate-user", headers=user.auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == user.username
    assert body["user"]["user_id"] == user.id
    assert isinstance(body["products"], list)
    assert body["products"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"],
    ids=["missing", "malformed", "wrong-scheme"],
)
def test_validate_user_passes_401_through(product_service: ServiceClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = product_service.get("/products/validate-user", headers=headers)

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert "error" in response.json()


def test_tampered_token_is_refused_by_both_services(
    make_user: UserFactory, user_service: ServiceClient, product_service: ServiceClient
) -> None:
    header, payload, signature = make_user().token.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    auth = {"Authorization": f"Bearer {tampered}"}

    assert user_service.get("/users/authenticate", headers=auth).status_code == 401
    assert product_service.post("/products", json={"name": "x", "price": 1}, headers=auth).status_code == 401


def test_created_product_is_attributed_to_its_creator(
    make_product: ProductFactory, product_service: ServiceClient
) -> None:
    product = make_product(name="Attributed lamp", price=12.5)

    fetched = product_service.get(f"/products/{product.id}").json()

    assert fetched == {
        "id": product.id,
        "name": "Attributed lamp",
        "price": 12.5,
        "created_by": product.owner.username,
    }
    listed: dict[int, dict[str, Any]] = {}
    url: str | None = "/products?limit=100"
    while url is not None and product.id not in listed:  # the catalogue is paginated
        page = product_service.get(url)
        listed.update((p["id"], p) for p in page.json())
        url = page.links.get("next", {}).get("url")
    assert listed[product.id]["name"] == "Attributed lamp"


def test_request_id_crosses_both_services_and_their_logs(
    stack: Stack, make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()
    request_id = product_service.new_request_id()

    response = product_service.get(
        "/products/validate-user", headers={**user.auth, "X-Request-ID": request_id}
    )

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id

    def logged_by(service: str) -> list[dict[str, object]]:
        lines = (json.loads(line) for line in stack.logs(service).splitlines() if line.startswith("{"))
        return [line for line in lines if line.get("request_id") == request_id]

    # Logs reach the engine asynchronously: poll for them under a deadline.
    assert wait_for(lambda: logged_by("user-service"), timeout=5, what="user-service log line")
    assert wait_for(lambda: logged_by("product-service"), timeout=5, what="product-service log line")
    assert any(line.get("path") == "/users/authenticate" for line in logged_by("user-service"))

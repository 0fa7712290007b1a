"""Scenario: a new seller signs up, lists a product, and shoppers see it.

This is the pattern to copy: ask for the fixtures you need, make data with the
factories, act through the clients, assert on what a real caller would see.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_microstack import ServiceClient

from tests.support.factories import UserFactory

pytestmark = pytest.mark.scenario


def catalogue(product_service: ServiceClient) -> Iterator[dict[str, Any]]:
    """Every product, page by page, following the Link headers as a shopper's client would."""
    url: str | None = "/products?limit=100"
    while url is not None:
        page = product_service.get(url)
        assert page.status_code == 200, page.text
        yield from page.json()
        url = page.links.get("next", {}).get("url")  # relative: the client resolves it


def test_new_seller_lists_a_product(
    make_user: UserFactory, product_service: ServiceClient, user_service: ServiceClient
) -> None:
    seller = make_user(username="desk-seller-" + user_service.new_request_id()[-6:])

    assert user_service.get("/users/authenticate", headers=seller.auth).json()["username"] == seller.username
    listed = product_service.post(
        "/products", json={"name": "Standing desk", "price": 349}, headers=seller.auth
    )

    assert listed.status_code == 201, listed.text
    assert {"id": listed.json()["id"], "name": "Standing desk", "price": 349} in catalogue(product_service)
    assert product_service.get(f"/products/{listed.json()['id']}").json()["created_by"] == seller.username


def test_listing_without_logging_in_is_refused(product_service: ServiceClient) -> None:
    response = product_service.post("/products", json={"name": "Free lunch", "price": 0})

    assert response.status_code == 401
    assert all(p["name"] != "Free lunch" for p in catalogue(product_service))

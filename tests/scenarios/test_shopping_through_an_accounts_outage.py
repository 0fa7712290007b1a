"""Scenario: shoppers keep browsing while the accounts service is down.

Shows the `faults` fixture: the outage is real (the container is stopped) and
is healed when the `with` block ends, even if an assertion fails inside it.
"""

from __future__ import annotations

import pytest
from pytest_microstack import Faults, ServiceClient

from tests.support.factories import ProductFactory

pytestmark = pytest.mark.scenario


def test_shopping_through_an_accounts_outage(
    make_product: ProductFactory, product_service: ServiceClient, faults: Faults
) -> None:
    product = make_product(name="Umbrella", price=15)

    with faults.down("user-service"):
        assert product_service.get(f"/products/{product.id}").json()["name"] == "Umbrella"
        refused = product_service.post(
            "/products", json={"name": "Hat", "price": 5}, headers=product.owner.auth
        )
        assert refused.status_code == 503
        assert refused.json()["dependency"] == "user-service"

    after = product_service.post("/products", json={"name": "Hat", "price": 5}, headers=product.owner.auth)
    assert after.status_code == 201, after.text

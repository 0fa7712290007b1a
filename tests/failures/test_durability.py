"""Restarts and kills lose nothing that was committed."""

from __future__ import annotations

import threading

from pytest_microstack.clients import ServiceClient
from pytest_microstack.faults import Faults
from pytest_microstack.waiting import wait_for

from tests.support.factories import ProductFactory, User, UserFactory


def test_products_committed_before_a_kill_mid_way_survive(
    faults: Faults, product_service: ServiceClient, user: User
) -> None:
    committed: list[int] = []
    stop = threading.Event()

    def keep_creating() -> None:
        for number in range(500):  # bounded: stops by itself
            if stop.is_set():
                return
            try:
                response = product_service.post(
                    "/products",
                    json={"name": f"durable-{number}", "price": number},
                    headers=user.auth,
                    timeout=2,
                )
            except (OSError, LookupError):  # refused, or no published port while it is down
                continue
            if response.status_code == 201:
                committed.append(response.json()["id"])

    writer = threading.Thread(target=keep_creating, daemon=True)
    writer.start()
    wait_for(lambda: len(committed) >= 5, timeout=15, what="five products created before the kill")
    with faults.crash("product-service"):
        pass
    stop.set()
    writer.join(timeout=10)

    for product_id in committed:
        assert product_service.get(f"/products/{product_id}").status_code == 200, product_id


def test_products_survive_a_restart(
    faults: Faults, make_product: ProductFactory, product_service: ServiceClient
) -> None:
    made = [make_product(price=price) for price in (1, 2.5, 1000)]

    with faults.down("product-service"):
        pass

    for product in made:
        fetched = product_service.get(f"/products/{product.id}").json()
        assert (fetched["name"], fetched["price"]) == (product.name, product.price)


def test_user_service_restart_keeps_users_and_their_tokens(
    faults: Faults, make_user: UserFactory, user_service: ServiceClient, product_service: ServiceClient
) -> None:
    user = make_user()

    with faults.crash("user-service"):
        pass

    assert user_service.get("/users/authenticate", headers=user.auth).status_code == 200
    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 200
    login = user_service.post("/auth/token", json={"username": user.username, "password": user.password})
    assert login.status_code == 200

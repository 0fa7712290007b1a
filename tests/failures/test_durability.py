"""Restarts and kills lose nothing that was committed."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest
from pytest_microstack import Faults, ServiceClient, Stack

from tests.support.factories import ProductFactory, User, UserFactory

from .writes import Writers

# More writers than product-service has request threads (2 gunicorn workers x 4
# threads), so requests queue up inside it and some are still there when the
# kill lands. Bounded: each writer sends at most PER_WRITER requests.
WRITERS = 24
PER_WRITER = 50
# The client's socket timeout: a request cut off by the kill gets no RST (the
# container's network namespace is gone), so it ends at this timeout.
CLIENT_TIMEOUT = 5.0
WARM_UP_TIMEOUT = 60.0  # seconds for the first acknowledged writes on a loaded machine


def test_writes_in_flight_at_a_kill_are_kept_once_or_not_at_all(
    faults: Faults,
    stack: Stack,
    product_service: ServiceClient,
    make_product: ProductFactory,
    user: User,
    request: pytest.FixtureRequest,
) -> None:
    before = make_product(owner=user).id
    writers = Writers(
        stack.address("product-service"),
        user.token,
        count=WRITERS,
        per_writer=PER_WRITER,
        timeout=CLIENT_TIMEOUT,
        prefix=f"inflight-{secrets.token_hex(3)}",
    )
    writers.start()
    writers.wait_until(
        lambda writes: (
            sum(w.acknowledged for w in writes) >= WRITERS
            and sum(w.in_flight for w in writes) >= WRITERS // 2
        ),
        timeout=WARM_UP_TIMEOUT,
        what="writes acknowledged and a queue of writes in flight",
    )

    # The writers keep sending until the kill has landed (the container is not
    # running), not only until it is issued: a kill takes a while on a loaded
    # engine, and product-service can answer a whole queue meanwhile.
    with faults.crash("product-service"):  # SIGKILL; healed (restarted, healthy) after the block
        writers.stop()
    writers.join(CLIENT_TIMEOUT * 2)
    after = make_product(owner=user).id

    # The kill landed while writes were in flight: sent, never answered (one refused
    # before it was sent is not among them).
    cut_off = [write for write in writers.writes if write.sent_at is not None and write.status is None]
    assert cut_off, f"no write was in flight when the kill landed ({writers.summary()})"

    stored = products_between(product_service, before, after)
    mine = {write.name: write for write in writers.writes}
    assert set(stored.values()) <= set(mine), "rows nobody wrote (corruption)"
    counts = Counter(stored.values())
    assert [name for name, count in counts.items() if count > 1] == [], "a write stored twice"
    for write in writers.writes:
        if write.acknowledged:
            product_id = write.body["id"]
            assert stored.get(product_id) == write.name, f"acknowledged write lost: {write}"
            assert product_service.get(f"/products/{product_id}").json()["price"] == write.price
    cut_off_but_stored = [write for write in cut_off if counts[write.name] == 1]
    request.node.add_report_section(  # shown with -rP: how the writes in flight at the kill ended
        "call",
        "writes",
        f"{writers.summary()}; {len(cut_off)} in flight at the kill, "
        f"{len(cut_off_but_stored)} of them committed before it landed, the rest absent",
    )


def products_between(product_service: ServiceClient, first: int, last: int) -> dict[int, str]:
    """id -> name of every product strictly between two ids, read one by one (GET /products/<id>)."""
    found = {}
    for product_id in range(first + 1, last):
        response = product_service.get(f"/products/{product_id}")
        if response.status_code == 404:
            continue  # an id no committed row took
        assert response.status_code == 200, response.text
        found[product_id] = response.json()["name"]
    return found


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

"""What product-service does when user-service is down, hung, slow, cut off or failing."""

from __future__ import annotations

import pytest
from pytest_microstack import Faults, ServiceClient

from tests.support.factories import User

from .conftest import Upstream, timed


def assert_dependency_error(response_status: int, body: dict[str, object], status: int) -> None:
    assert response_status == status, body
    assert body["dependency"] == "user-service"
    assert isinstance(body["error"], str)
    assert body["error"]


def assert_public_side_works(product_service: ServiceClient) -> None:
    """Reads that don't need user-service keep working, and product-service stays ready."""
    assert product_service.get("/products").status_code == 200
    assert product_service.get("/ready").status_code == 200


@pytest.mark.parametrize("fault", ["down", "crash", "partition"])
def test_unreachable_user_service_gives_503_fast(
    faults: Faults, product_service: ServiceClient, user: User, upstream: Upstream, fault: str
) -> None:
    with getattr(faults, fault)("user-service"):
        validate = timed(lambda: product_service.get("/products/validate-user", headers=user.auth))
        create = timed(
            lambda: product_service.post("/products", json={"name": "n", "price": 1}, headers=user.auth)
        )

        for call in (validate, create):
            assert_dependency_error(call.response.status_code, call.response.json(), 503)
            # Every attempt fails at once; only the retries' backoff is waited for.
            assert call.seconds < upstream.unreachable_bound, (call.seconds, upstream)
        assert_public_side_works(product_service)

    recovered = product_service.get("/products/validate-user", headers=user.auth)
    assert recovered.status_code == 200, recovered.text


def test_hung_user_service_gives_504_within_the_timeout(
    faults: Faults, product_service: ServiceClient, user: User, upstream: Upstream
) -> None:
    with faults.hang("user-service"):
        call = timed(lambda: product_service.get("/products/validate-user", headers=user.auth))

        assert_dependency_error(call.response.status_code, call.response.json(), 504)
        # It waited the read timeout out (no earlier), once (reads are not retried).
        assert upstream.read_timeout <= call.seconds < upstream.hung_bound, (call.seconds, upstream)
        assert_public_side_works(product_service)

    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 200


def test_latency_spike_under_the_timeout_delays_then_succeeds(
    faults: Faults, product_service: ServiceClient, user: User, read_timeout: float
) -> None:
    spike = read_timeout / 2

    with faults.slow("user-service", seconds=spike):
        call = timed(lambda: product_service.get("/products/validate-user", headers=user.auth))

    assert call.response.status_code == 200, call.response.text
    # The spike really delayed the call, and the call didn't wait for a timeout.
    assert spike * 0.8 <= call.seconds < read_timeout


def test_latency_spike_over_the_timeout_gives_504(
    faults: Faults, product_service: ServiceClient, user: User, upstream: Upstream
) -> None:
    with faults.slow("user-service", seconds=upstream.read_timeout + 1.5):
        call = timed(lambda: product_service.get("/products/validate-user", headers=user.auth))
        assert_public_side_works(product_service)

    assert_dependency_error(call.response.status_code, call.response.json(), 504)
    assert upstream.read_timeout <= call.seconds < upstream.hung_bound, (call.seconds, upstream)
    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 200


def test_failing_user_service_gives_502(faults: Faults, product_service: ServiceClient, user: User) -> None:
    with faults.erroring("user-service"):
        call = timed(lambda: product_service.get("/products/validate-user", headers=user.auth))

        assert_dependency_error(call.response.status_code, call.response.json(), 502)
        assert_public_side_works(product_service)

    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 200

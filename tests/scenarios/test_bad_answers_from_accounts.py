"""Scenario: user-service answers badly, and product-service says so to its callers.

Shows the `doubles` fixture: answers the faults can't give (a 500 with a body,
malformed JSON, a reset mid-body, a body that trickles past the read timeout),
given by user-service's recording proxy for this test only.
"""

from __future__ import annotations

import pytest
from pytest_microstack import Doubles, ServiceClient

from tests.support.factories import UserFactory

pytestmark = pytest.mark.scenario
AUTHENTICATE = "/users/authenticate"


def test_a_500_with_a_body_is_a_bad_gateway(
    doubles: Doubles, make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()
    doubles["user-service"].on("GET", AUTHENTICATE).respond(500, b'{"error": "database on fire"}')
    answer = product_service.get("/products/validate-user", headers=user.auth)
    assert answer.status_code == 502, answer.text
    assert answer.json()["dependency"] == "user-service"


def test_malformed_json_is_a_bad_gateway(
    doubles: Doubles, make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()
    doubles["user-service"].on("GET", AUTHENTICATE).respond(200, body=b"{not json")
    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 502


def test_a_reset_mid_body_is_a_bad_gateway(
    doubles: Doubles, make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()
    body = b'{"user_id": 1, "username": "x"}'
    doubles["user-service"].on("GET", AUTHENTICATE).respond(200, body, reset_after=5)
    answer = product_service.get("/products/validate-user", headers=user.auth)
    assert answer.status_code == 502, answer.text


def test_a_body_trickling_past_the_read_timeout_is_a_gateway_timeout(
    doubles: Doubles, make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()
    # One byte every 3 s: each read waits longer than USER_SERVICE_READ_TIMEOUT (2 s).
    doubles["user-service"].on("GET", AUTHENTICATE).respond(200, b'{"user_id": 1}', rate=1 / 3)
    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 504

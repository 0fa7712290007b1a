"""Each behaviour of a double, against the real stack: user-service answers as the test says.

The tests call user-service through its published port, which its recording
proxy publishes: the same proxy product-service reaches as `user-service:5000`.
"""

from __future__ import annotations

import time

import pytest
import requests
from pytest_microstack import Doubles, ServiceClient

from tests.support.factories import UserFactory


def test_a_status_with_a_body_and_headers(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").respond(418, b"teapot", {"X-Double": "yes"})
    answer = user_service.get("/health")
    assert (answer.status_code, answer.text, answer.headers["X-Double"]) == (418, "teapot", "yes")


def test_malformed_json(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").malformed_json()
    with pytest.raises(requests.JSONDecodeError):
        user_service.get("/health").json()


def test_a_delay_before_the_headers(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").respond(200, b"late", delay=0.6)
    started = time.monotonic()
    assert user_service.get("/health").text == "late"
    assert time.monotonic() - started >= 0.6


def test_a_body_trickled_at_n_bytes_per_second(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").respond(200, b"x" * 40, rate=80)
    started = time.monotonic()
    assert user_service.get("/health").text == "x" * 40
    assert 0.4 <= time.monotonic() - started < 3  # 40 bytes at 80 bytes/s: about 0.5 s


def test_a_connection_reset_mid_body(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").respond(200, b"0123456789", reset_after=4)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="reset by peer"):
        user_service.get("/health")


def test_a_close_with_no_response(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").close()
    with pytest.raises(requests.exceptions.ConnectionError, match=r"without response|aborted"):
        user_service.get("/health")


def test_a_wrong_content_length(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").respond(200, b"short", content_length=50)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        user_service.get("/health")


def test_a_redirect(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").redirect("/elsewhere", status=307)
    answer = user_service.get("/health", allow_redirects=False)
    assert (answer.status_code, answer.headers["Location"]) == (307, "/elsewhere")


def test_an_answer_for_the_nth_call_only(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").nth(2).respond(503, b"second")
    statuses = [user_service.get("/health").status_code for _ in range(3)]
    assert statuses == [200, 503, 200]


def test_a_pass_through_with_a_changed_status(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("GET", "/health").passthrough(500)
    answer = user_service.get("/health")
    assert (answer.status_code, answer.json()) == (500, user_service.get("/health?x").json())


def test_unmatched_requests_reach_the_real_service(doubles: Doubles, user_service: ServiceClient) -> None:
    doubles["user-service"].on("POST", "/health").respond(500)  # another method
    doubles["user-service"].on("GET", "/users/*").respond(500)  # another path
    assert user_service.get("/health").status_code == 200


def test_calls_lists_what_the_service_received_and_from_whom(
    doubles: Doubles, make_user: UserFactory, product_service: ServiceClient
) -> None:
    user = make_user()
    double = doubles["user-service"]
    assert product_service.get("/products/validate-user", headers=user.auth).status_code == 200
    calls = [(call.caller, call.method, call.path, call.status) for call in double.calls]
    assert ("product-service", "GET", "/users/authenticate", 200) in calls


def test_removing_the_rules_brings_the_real_service_back(
    doubles: Doubles, user_service: ServiceClient
) -> None:
    double = doubles["user-service"]
    double.on("GET", "/health").respond(500)
    assert user_service.get("/health").status_code == 500
    double.remove()
    assert user_service.get("/health").status_code == 200


def test_a_service_that_is_not_proxied_has_no_double(doubles: Doubles) -> None:
    with pytest.raises(KeyError, match="'nothing' has no double"):
        doubles["nothing"]

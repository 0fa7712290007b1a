"""Numbers too large for the database, or for Python, in paths, bodies and queries: 4xx, never 5xx."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from .conftest import BODY_ENDPOINTS, Endpoint, auth_headers
from .replies import assert_client_error, raw_request

# In a URL: at most ~4,000 characters, as gunicorn refuses longer request lines
# itself (414, see test_protocol.py) before the app sees them.
HUGE_IDS = {
    "int64-max-plus-one": str(2**63),
    "uint64-max": str(2**64 - 1),
    "hundred-digits": "9" * 100,
    "four-thousand-digits": "9" * 4000,
}
# Raw JSON number texts for a field that wants a number (price) or a string (the rest).
HUGE_NUMBERS = {
    "int64-max-plus-one": str(2**63),
    # Python refuses to parse integers of more than 4300 digits (a DoS guard).
    "beyond-float": "1" + "0" * 400,
    "five-thousand-digits": "9" * 5000,
    "float-overflow": "1e400",
    "negative-overflow": "-1e400",
    "tiny": "1e-400",
}


@pytest.mark.parametrize("product_id", HUGE_IDS.values(), ids=HUGE_IDS.keys())
def test_huge_product_id_in_the_path_is_not_found(product_service_url: str, product_id: str) -> None:
    reply = raw_request(product_service_url, "GET", f"/products/{product_id}")

    assert_client_error(reply, 400, 404)


def number_body(endpoint: Endpoint, field: str, number_text: str) -> bytes:
    placeholder = "@@NUMBER@@"
    return (
        json.dumps({**endpoint.valid, field: placeholder}).replace(f'"{placeholder}"', number_text).encode()
    )


UNPARSEABLE = HUGE_NUMBERS["five-thousand-digits"]
BODY_CASES = [
    pytest.param(endpoint, field, text, id=f"{endpoint.service}{endpoint.path}-{field}-{name}")
    for endpoint in BODY_ENDPOINTS
    for field in endpoint.valid
    for name, text in HUGE_NUMBERS.items()
]


@pytest.mark.parametrize(("endpoint", "field", "number_text"), BODY_CASES)
def test_huge_number_in_a_body_field_is_refused(
    urls: dict[str, str], seller: Any, endpoint: Endpoint, field: str, number_text: str
) -> None:
    headers = [("Content-Type", "application/json"), *auth_headers(endpoint, seller)]

    reply = raw_request(
        urls[endpoint.service], "POST", endpoint.path, headers, number_body(endpoint, field, number_text)
    )

    if number_text == UNPARSEABLE:
        assert_client_error(reply, 400)  # the body as a whole: no JSON parser here reads it
    elif (
        field == "price"
        and math.isfinite(float(number_text))
        and float(number_text) >= 0
        and reply.status == 201
    ):
        # Finite and >= 0 may be a valid price (up to the documented maximum); 1e-400 underflows to 0.
        assert reply.json()["price"] == round(float(number_text), 2), str(reply)
    else:
        assert_client_error(reply, 400, field=field)


QUERY_VALUES = {**HUGE_IDS, "negative": "-1", "not-a-number": "ten", "float": "1.5", "empty": ""}
LIST_PATHS = ["/products", "/products/validate-user"]


@pytest.mark.parametrize("value", QUERY_VALUES.values(), ids=QUERY_VALUES.keys())
@pytest.mark.parametrize("parameter", ["limit", "cursor"])
@pytest.mark.parametrize("path", LIST_PATHS)
def test_odd_paging_parameters_never_fail_the_server(
    product_service_url: str, seller: Any, path: str, parameter: str, value: str
) -> None:
    headers = [("Authorization", f"Bearer {seller.token}")]

    reply = raw_request(product_service_url, "GET", f"{path}?{parameter}={value}", headers)

    assert reply.status < 500, str(reply)
    if reply.status >= 400:
        assert_client_error(reply, 400)

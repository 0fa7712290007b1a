"""Hostile input, class by class: every answer is a documented 4xx in JSON, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from product_helpers import BEARER, FakeUserService, post_chunked
from servicekit import MAX_CONTENT_LENGTH
from servicekit.http import MAX_DEPTH


def raw_body(**raw_values: str) -> str:
    """A JSON object written by hand, so values can be what json.dumps never writes."""
    values = {"name": '"Lamp"', "price": "12.5", **raw_values}
    return "{" + ", ".join(f'"{key}": {value}' for key, value in values.items()) + "}"


def post_raw(client: FlaskClient, body: str | bytes, **kwargs: Any) -> Any:
    content_type = kwargs.pop("content_type", "application/json")
    headers = kwargs.pop("headers", BEARER)
    return client.post("/products", data=body, content_type=content_type, headers=headers, **kwargs)


@pytest.mark.parametrize(
    "path",
    [
        "/products/99999999999999999999999",
        f"/products/{2**63}",
        f"/products/{2**64}",
        "/products/" + "9" * 5000,
        "/products/-1",
        "/products/0",
        "/products/1.0",
        "/products/1e3",
        "/products/%EF%BC%91",  # a fullwidth digit one
        "/products/%00",
        "/products/%ff",
    ],
    ids=lambda path: path[10:30],
)
def test_ids_that_cannot_exist_in_paths_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json


def test_the_largest_possible_id_is_a_plain_404(client: FlaskClient) -> None:
    response = client.get(f"/products/{2**63 - 1}")
    assert response.status_code == 404
    assert response.json == {"error": f"product {2**63 - 1} not found"}


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("99999999999999999999999", id="beyond-int64"),
        pytest.param("9" * 5000, id="beyond-python-digit-limit"),
        pytest.param("-" + "9" * 5000, id="negative-beyond-digit-limit"),
        pytest.param("1e400", id="float-overflow"),
        pytest.param("1000000000.01", id="just-over-the-maximum"),
    ],
)
def test_oversized_prices_are_400_naming_price(
    client: FlaskClient, users: FakeUserService, number: str
) -> None:
    users.accepts()
    response = post_raw(client, raw_body(price=number))
    assert (response.status_code, response.json["field"]) == (400, "price")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param({"name": r'"\ud800"'}, "name", id="name-lone-high"),
        pytest.param({"name": r'"Lamp \udfff"'}, "name", id="name-lone-low"),
        pytest.param({"colour": r'"\udc00"'}, "colour", id="unknown-field"),
        pytest.param({"tags": r'["ok", ["\ud800"]]'}, "tags", id="nested"),
    ],
)
def test_lone_surrogates_in_any_field_are_400_naming_it(
    client: FlaskClient, users: FakeUserService, raw: dict[str, str], field: str
) -> None:
    users.accepts()
    response = post_raw(client, raw_body(**raw))
    assert (response.status_code, response.json["field"]) == (400, field)
    assert client.get("/products?limit=100").json == client.get("/products?limit=3").json  # nothing stored


def test_nesting_deeper_than_the_limit_is_400_naming_the_field(
    client: FlaskClient, users: FakeUserService
) -> None:
    users.accepts()
    response = post_raw(client, raw_body(extra="[" * MAX_DEPTH + "]" * MAX_DEPTH))
    assert (response.status_code, response.json["field"]) == (400, "extra")
    assert post_raw(client, "[" * 100_000).status_code == 400


def test_chunked_body_over_the_limit_is_413_before_asking_user_service(
    client: FlaskClient, users: FakeUserService
) -> None:
    body = raw_body(name='"' + "x" * MAX_CONTENT_LENGTH + '"').encode()
    response = post_chunked(client, "/products", body, headers=BEARER)
    assert response.status_code == 413
    assert response.is_json
    assert users.requests() == []


def test_chunked_body_within_the_limit_creates_the_product(
    client: FlaskClient, users: FakeUserService
) -> None:
    users.accepts()
    response = post_chunked(client, "/products", raw_body().encode(), headers=BEARER)
    assert response.status_code == 201, response.json


def test_chunked_body_on_a_get_is_refused_over_the_limit(client: FlaskClient) -> None:
    environ_body = b"x" * (MAX_CONTENT_LENGTH + 1)
    response = client.get("/products", data=environ_body)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""]
)
def test_wrong_content_types_are_415(client: FlaskClient, users: FakeUserService, content_type: str) -> None:
    users.accepts()
    response = post_raw(client, raw_body(), content_type=content_type)
    assert response.status_code == 415
    assert response.is_json


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(" Bearer good-token", id="leading-space"),
        # gunicorn strips spaces and tabs and refuses line breaks, but passes these on:
        pytest.param("\xa0Bearer good-token", id="leading-no-break-space"),
        pytest.param("\x85Bearer good-token", id="leading-next-line"),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/products"), ("GET", "/products/validate-user")])
def test_authorization_headers_that_cannot_be_passed_on_are_401_not_502(
    client: FlaskClient, users: FakeUserService, method: str, path: str, header: str
) -> None:
    response = client.open(
        path, method=method, json={"name": "Pen", "price": 1}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.json == {"error": "Authorization header must be 'Bearer <token>'"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert users.requests() == []


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer \xe9\xff", id="latin-1-bytes"),
        pytest.param("Bearer " + "a" * 8000, id="huge-token"),
        pytest.param("Bearer\tgood-token", id="tab"),
    ],
)
def test_odd_but_sendable_authorization_headers_go_to_user_service_untouched(
    client: FlaskClient, users: FakeUserService, header: str
) -> None:
    users.rejects()
    response = client.get("/products/validate-user", headers={"Authorization": header})
    assert response.status_code == 401
    (sent,) = users.requests()
    assert sent.headers["Authorization"] == header


@pytest.mark.parametrize(
    "query",
    [
        "limit=%ff",
        "cursor=%00%00%00%00%00%00%00%00%00%00%00",
        "limit=1&limit=",
        "cursor=" + "A" * 10_000,
        "limit=" + "9" * 5000,
    ],
    ids=["limit-bad-utf8", "cursor-nul", "limit-empty-twice", "cursor-huge", "limit-huge"],
)
def test_odd_query_strings_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/products?{query}")
    assert response.status_code == 400
    assert response.json["field"] in {"limit", "cursor"}  # type: ignore[index]

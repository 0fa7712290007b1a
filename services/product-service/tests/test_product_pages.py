"""Pagination of GET /products and /products/validate-user: limit, cursor, Link header."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from product_helpers import BEARER, FakeUserService
from product_service.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from requests.utils import parse_header_links
from werkzeug.test import TestResponse

SEEDED = 3


@pytest.fixture
def add_products(client: FlaskClient, db_path: Path) -> Callable[[int], None]:
    """Function scope: insert n more products straight into the database (after the seed)."""
    client.get("/health")  # the app exists, so the schema and seed do

    def add(n: int) -> None:
        with sqlite3.connect(db_path) as conn:
            conn.executemany(
                "INSERT INTO products (name, price) VALUES (?, ?)", [(f"p{i}", i) for i in range(n)]
            )

    return add


def next_url(response: TestResponse) -> str | None:
    """The rel="next" target of the Link header, as RFC 8288 clients read it."""
    header = response.headers.get("Link")
    if header is None:
        return None
    (link,) = parse_header_links(header)
    assert link["rel"] == "next"
    return link["url"]


def walk(client: FlaskClient, url: str, items: Callable[[Any], list[dict[str, Any]]]) -> list[list[int]]:
    """Follow Link headers from url to the last page; return each page's ids."""
    pages: list[list[int]] = []
    next_page: str | None = url
    while next_page is not None:
        response = client.get(next_page, headers=BEARER)
        assert response.status_code == 200, response.json
        pages.append([product["id"] for product in items(response.json)])
        next_page = next_url(response)
        assert len(pages) <= 100, "the pages never end"
    return pages


def test_default_page_is_the_first_20_by_id_with_a_relative_next_link(
    client: FlaskClient, add_products: Callable[[int], None]
) -> None:
    add_products(40)
    response = client.get("/products")
    assert response.status_code == 200
    assert [p["id"] for p in response.json] == list(range(1, DEFAULT_LIMIT + 1))  # type: ignore[union-attr]
    assert next_url(response) == f"/products?limit={DEFAULT_LIMIT}&cursor={encode_cursor(DEFAULT_LIMIT)}"


def test_following_links_reads_every_product_once_in_order(
    client: FlaskClient, add_products: Callable[[int], None]
) -> None:
    add_products(44)
    pages = walk(client, "/products?limit=7", lambda body: body)
    assert [len(page) for page in pages] == [7] * 6 + [5]
    assert [i for page in pages for i in page] == list(range(1, SEEDED + 44 + 1))


def test_a_page_that_ends_exactly_at_the_last_product_has_no_link(client: FlaskClient) -> None:
    response = client.get(f"/products?limit={SEEDED}")
    assert len(response.json) == SEEDED  # type: ignore[arg-type]
    assert "Link" not in response.headers


def test_products_added_meanwhile_appear_on_later_pages(
    client: FlaskClient, add_products: Callable[[int], None]
) -> None:
    first = client.get("/products?limit=2")
    add_products(1)
    rest = walk(client, str(next_url(first)), lambda body: body)
    assert [i for page in rest for i in page] == [3, 4]


def test_every_list_is_bounded_by_the_maximum_limit(
    client: FlaskClient, add_products: Callable[[int], None]
) -> None:
    add_products(MAX_LIMIT + 50)
    response = client.get(f"/products?limit={MAX_LIMIT}")
    assert len(response.json) == MAX_LIMIT  # type: ignore[arg-type]
    assert next_url(response) is not None


def test_cursor_past_the_end_gives_an_empty_last_page(client: FlaskClient) -> None:
    for cursor in (encode_cursor(10**6), "__________-", "zzzzzzzzzzz"):
        response = client.get(f"/products?cursor={cursor}")
        assert (response.status_code, response.json) == (200, [])
        assert "Link" not in response.headers


@pytest.mark.parametrize(
    "value", [1, 2**31, 2**63 - 1, 2**64 - 1], ids=["one", "int32", "rowid-max", "u64-max"]
)
def test_cursor_round_trip(value: int) -> None:
    assert decode_cursor(encode_cursor(value)) == min(value, 2**63 - 1)


def test_a_bad_cursor_says_where_a_good_one_comes_from(client: FlaskClient) -> None:
    response = client.get("/products", query_string={"cursor": "abc"})
    assert response.json == {"error": "cursor is not valid; copy it from a Link header", "field": "cursor"}


BAD_LIMITS = ["0", "-1", "101", "abc", "1.5", "", " 5", "+5", "1_0", "\u0663", "1e2", "9" * 40]
BAD_CURSORS = ["", "abc", "!!!!!!!!!!!", "AAAAAAAAAAAA", "AAAAAAAAAA=", "AAAAAAAAAA\u00e9", "A" * 5000]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        *[pytest.param({"limit": v}, "limit", id=f"limit-{v[:8]!r}") for v in BAD_LIMITS],
        *[pytest.param({"cursor": v}, "cursor", id=f"cursor-{v[:12]!r}") for v in BAD_CURSORS],
        pytest.param([("limit", "5"), ("limit", "6")], "limit", id="limit-twice"),
        pytest.param(
            [("cursor", encode_cursor(1)), ("cursor", encode_cursor(2))], "cursor", id="cursor-twice"
        ),
    ],
)
@pytest.mark.parametrize("path", ["/products", "/products/validate-user"])
def test_bad_limit_or_cursor_is_400_naming_it_before_asking_user_service(
    client: FlaskClient, users: FakeUserService, path: str, query: Any, field: str
) -> None:
    response = client.get(path, query_string=query, headers=BEARER)
    assert response.status_code == 400
    assert response.json["field"] == field  # type: ignore[index]
    assert field in response.json["error"]  # type: ignore[index]
    assert users.requests() == []


@pytest.mark.parametrize("limit", ["1", "100", "007"])
def test_limits_in_range_are_accepted(
    client: FlaskClient, add_products: Callable[[int], None], limit: str
) -> None:
    add_products(MAX_LIMIT)
    response = client.get("/products", query_string={"limit": limit})
    assert len(response.json) == int(limit)  # type: ignore[arg-type]


def test_validate_user_gives_the_first_page_and_links_to_its_next_page(
    client: FlaskClient, users: FakeUserService, add_products: Callable[[int], None]
) -> None:
    users.accepts(username="alice", user_id=7)
    add_products(30)
    response = client.get("/products/validate-user", headers=BEARER)
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["user"] == {"user_id": 7, "username": "alice", "message": "Authenticated"}
    assert [p["id"] for p in body["products"]] == list(range(1, DEFAULT_LIMIT + 1))
    assert next_url(response) == (
        f"/products/validate-user?limit={DEFAULT_LIMIT}&cursor={encode_cursor(DEFAULT_LIMIT)}"
    )
    pages = walk(client, "/products/validate-user?limit=15", lambda body: body["products"])
    assert [i for page in pages for i in page] == list(range(1, SEEDED + 30 + 1))


def test_unknown_query_parameters_are_ignored(client: FlaskClient) -> None:
    response = client.get("/products?page=2&sort=name")
    assert response.status_code == 200
    assert [p["id"] for p in response.json] == [1, 2, 3]  # type: ignore[union-attr]

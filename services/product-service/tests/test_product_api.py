"""Product endpoints: listing, reading, creating, and the validate-user passthrough."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from product_helpers import BEARER, CHALLENGE, TOKEN, UNAUTHORIZED, FakeUserService

SEEDED = [
    {"id": 1, "name": "Laptop", "price": 999.99},
    {"id": 2, "name": "Mouse", "price": 25.5},
    {"id": 3, "name": "Keyboard", "price": 75.0},
]


def test_list_returns_seeded_products(client: FlaskClient) -> None:
    response = client.get("/products")
    assert response.status_code == 200
    assert response.json == SEEDED


def test_get_one_product(client: FlaskClient) -> None:
    response = client.get("/products/2")
    assert response.status_code == 200
    assert response.json == {
        "id": 2,
        "name": "Mouse",
        "price": 25.5,
        "created_by": None,
    }


@pytest.mark.parametrize("path", ["/products/999", "/products/0", "/products/abc", "/products/-1"])
def test_unknown_product_is_404_json(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"]  # type: ignore[index]


def test_seeding_happens_once_across_restarts(make_app: Callable[..., Flask]) -> None:
    make_app()
    assert make_app().test_client().get("/products").json == SEEDED


def test_concurrent_startups_seed_once(make_app: Callable[..., Flask], db_path: Path) -> None:
    # Like several gunicorn workers booting against one fresh file at the same moment.
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def boot() -> None:
        barrier.wait()
        try:
            make_app()
        except Exception as exc:  # noqa: BLE001 - reported below, in the test thread
            failures.append(exc)

    threads = [threading.Thread(target=boot) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (3,)


def test_create_product_as_authenticated_user(client: FlaskClient, users: FakeUserService) -> None:
    users.accepts(username="alice")
    response = client.post("/products", json={"name": "Monitor", "price": 199.999}, headers=BEARER)
    assert response.status_code == 201
    created = {"id": 4, "name": "Monitor", "price": 200.0, "created_by": "alice"}
    assert response.json == created
    assert client.get("/products/4").json == created
    listed = client.get("/products").json
    assert listed is not None
    assert listed[-1] == {"id": 4, "name": "Monitor", "price": 200.0}
    (sent,) = users.requests()
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_created_products_survive_a_restart(make_app: Callable[..., Flask], users: FakeUserService) -> None:
    users.accepts()
    make_app().test_client().post("/products", json={"name": "Pen", "price": 1}, headers=BEARER)
    assert make_app().test_client().get("/products/4").json["name"] == "Pen"  # type: ignore[index]


@pytest.mark.parametrize(
    ("price", "stored"),
    [
        pytest.param(0, 0.0, id="zero"),
        pytest.param(5, 5.0, id="int"),
        pytest.param(0.004, 0.0, id="rounds-down"),
        pytest.param(12.345678, 12.35, id="rounds-half-up-ish"),
        pytest.param(1e9, 1e9, id="large"),
    ],
)
def test_price_is_stored_rounded_to_cents(
    client: FlaskClient, users: FakeUserService, price: float, stored: float
) -> None:
    users.accepts()
    response = client.post("/products", json={"name": "Thing", "price": price}, headers=BEARER)
    assert response.status_code == 201
    assert response.json["price"] == stored  # type: ignore[index]
    assert client.get("/products/4").json["price"] == stored  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"price": 1}, "name", id="name-missing"),
        pytest.param({"name": None, "price": 1}, "name", id="name-null"),
        pytest.param({"name": 5, "price": 1}, "name", id="name-int"),
        pytest.param({"name": "", "price": 1}, "name", id="name-empty"),
        pytest.param({"name": "   ", "price": 1}, "name", id="name-blank"),
        pytest.param({"name": "x" * 201, "price": 1}, "name", id="name-too-long"),
        pytest.param({"name": "Pen"}, "price", id="price-missing"),
        pytest.param({"name": "Pen", "price": None}, "price", id="price-null"),
        pytest.param({"name": "Pen", "price": "1.50"}, "price", id="price-string"),
        pytest.param({"name": "Pen", "price": True}, "price", id="price-bool"),
        pytest.param({"name": "Pen", "price": [1]}, "price", id="price-list"),
        pytest.param({"name": "Pen", "price": -0.01}, "price", id="price-negative"),
        pytest.param({"name": "Pen", "price": 10**400}, "price", id="price-overflows-float"),
    ],
)
def test_create_rejects_invalid_fields(
    client: FlaskClient, users: FakeUserService, body: dict[str, Any], field: str
) -> None:
    users.accepts()
    response = client.post("/products", json=body, headers=BEARER)
    assert response.status_code == 400
    assert response.json["field"] == field  # type: ignore[index]
    assert field in response.json["error"]  # type: ignore[index]


def test_price_that_overflows_to_infinity_is_rejected(client: FlaskClient, users: FakeUserService) -> None:
    # 1e309 is valid JSON but becomes float("inf") in Python.
    users.accepts()
    body = '{"name": "Pen", "price": 1e309}'
    response = client.post("/products", data=body, content_type="application/json", headers=BEARER)
    assert response.status_code == 400
    assert response.json["field"] == "price"  # type: ignore[index]


def test_name_of_200_characters_is_accepted(client: FlaskClient, users: FakeUserService) -> None:
    users.accepts()
    response = client.post("/products", json={"name": "x" * 200, "price": 1}, headers=BEARER)
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        pytest.param({"data": "{oops", "content_type": "application/json"}, 400, id="malformed"),
        pytest.param({"data": "[]", "content_type": "application/json"}, 400, id="array"),
        pytest.param(
            {"data": '{"name": "x", "price": NaN}', "content_type": "application/json"},
            400,
            id="nan",
        ),
        pytest.param(
            {"data": '{"name": "x", "price": 1}', "content_type": "text/plain"},
            415,
            id="wrong-content-type",
        ),
    ],
)
def test_bad_bodies_are_json_errors(
    client: FlaskClient, users: FakeUserService, kwargs: dict[str, Any], status: int
) -> None:
    users.accepts()
    response = client.post("/products", headers=BEARER, **kwargs)
    assert response.status_code == status
    assert response.is_json


def test_oversized_body_is_413_before_asking_user_service(
    client: FlaskClient, users: FakeUserService
) -> None:
    response = client.post(
        "/products",
        data="x" * (1024 * 1024 + 1),
        content_type="application/json",
        headers=BEARER,
    )
    assert response.status_code == 413
    assert response.is_json
    assert users.requests() == []


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        pytest.param(
            "POST",
            "/products",
            {"json": {"name": "Pen", "price": 1}},
            id="create-valid-body",
        ),
        pytest.param(
            "POST",
            "/products",
            {"json": {"price": -1}},
            id="create-invalid-body-401-first",
        ),
        pytest.param("GET", "/products/validate-user", {}, id="validate-user"),
    ],
)
def test_user_service_401_is_passed_through(
    client: FlaskClient,
    users: FakeUserService,
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    users.rejects()
    response = client.open(path, method=method, headers=BEARER, **kwargs)
    assert response.status_code == 401
    assert response.json == UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert client.get("/products").json == SEEDED


@pytest.mark.parametrize("path", ["/products", "/products/validate-user"])
def test_missing_authorization_is_left_to_user_service(
    client: FlaskClient, users: FakeUserService, path: str
) -> None:
    users.answers(401, {"error": "missing Authorization header"})
    method = "POST" if path == "/products" else "GET"
    response = client.open(path, method=method, json={"name": "Pen", "price": 1})
    assert response.status_code == 401
    assert response.json == {"error": "missing Authorization header"}
    (sent,) = users.requests()
    assert "Authorization" not in sent.headers


def test_validate_user_returns_user_and_products(client: FlaskClient, users: FakeUserService) -> None:
    users.accepts(username="testuser", user_id=1)
    response = client.get("/products/validate-user", headers=BEARER)
    assert response.status_code == 200
    assert response.json == {
        "user": {"user_id": 1, "username": "testuser", "message": "Authenticated"},
        "products": SEEDED,
    }
    (sent,) = users.requests()
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.path == "/users/authenticate"

"""The OpenAPI document: served, equal to the checked-in copy, valid, and complete."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from product_helpers import BEARER, FakeUserService

CHECKED_IN = Path(__file__).resolve().parents[1] / "openapi.json"
REGENERATE = "regenerate: .venv/bin/python -m product_service.openapi > services/product-service/openapi.json"


def test_served_document_equals_the_checked_in_file(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    assert response.json == json.loads(CHECKED_IN.read_text()), REGENERATE


def test_document_is_valid_openapi(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    assert isinstance(document, dict)
    validate(document)  # raises, naming the problem


def test_every_route_is_documented_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    routes = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    paths = client.get("/openapi.json").json["paths"]  # type: ignore[index]
    documented = {(path, method) for path, item in paths.items() for method in item}
    assert routes == documented


def test_limits_in_the_document_are_the_ones_enforced(client: FlaskClient, users: FakeUserService) -> None:
    users.accepts()
    schemas = client.get("/openapi.json").json["components"]["schemas"]  # type: ignore[index]
    name = schemas["NewProduct"]["properties"]["name"]
    price = schemas["NewProduct"]["properties"]["price"]
    at_limits = {"name": "x" * name["maxLength"], "price": price["maximum"]}
    assert client.post("/products", json=at_limits, headers=BEARER).status_code == 201
    for body, field in [
        ({**at_limits, "name": "x" * (name["maxLength"] + 1)}, "name"),
        ({**at_limits, "price": price["maximum"] * 1.0001}, "price"),
    ]:
        response = client.post("/products", json=body, headers=BEARER)
        assert (response.status_code, response.json["field"]) == (400, field)  # type: ignore[index]
    product_id = client.get("/openapi.json").json["components"]["parameters"]["ProductId"]  # type: ignore[index]
    assert client.get(f"/products/{product_id['schema']['maximum'] + 1}").status_code == 404

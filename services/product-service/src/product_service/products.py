"""Product endpoints; creating one and /validate-user go through user-service."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from servicekit.errors import ValidationError
from servicekit.http import json_object, require_string
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map

from product_service import db, pagination, user_client

bp = Blueprint("products", __name__, url_prefix="/products")

NAME_MAX = 200
# A bound a shop can use, far inside what a float holds to the cent.
PRICE_MAX = 1_000_000_000
# SQLite's largest rowid: a larger id cannot exist, and would overflow the query.
ID_MAX = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """A product id in a path: ASCII digits, 1 to ID_MAX; anything else does not match (404).

    werkzeug's int converter takes any Unicode digit and any size, and a size
    SQLite cannot bind is a 500.
    """

    regex = r"[0-9]+"

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=ID_MAX)


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    # Registered before the routes below are: deferred functions run in order.
    state.app.url_map.converters.setdefault("rowid", RowIdConverter)


def _authenticated_user() -> dict[str, Any]:
    # user-service is the only judge of tokens; we forward the header untouched.
    return user_client.client().authenticate(request.headers.get("Authorization"))


def _validated(data: dict[str, Any]) -> tuple[str, float]:
    name = require_string(data, "name")
    # The length counts as sent, as the OpenAPI document says; then blanks are trimmed.
    if len(name) > NAME_MAX:
        raise ValidationError("name", f"name must be at most {NAME_MAX} characters")
    name = name.strip()
    if not name:
        raise ValidationError("name", "name must not be empty")
    price = data.get("price")
    if price is None:
        raise ValidationError("price", "price is required")
    # bool is an int subclass; true is not a price.
    if isinstance(price, bool) or not isinstance(price, int | float):
        raise ValidationError("price", "price must be a number")
    try:
        value = float(price)  # huge JSON integers overflow here
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or not 0 <= value <= PRICE_MAX:
        raise ValidationError("price", f"price must be a number from 0 to {PRICE_MAX}")
    return name, round(value, 2)


def _page_response(page: pagination.Page, wrap: Callable[[list[dict[str, Any]]], Any]) -> Response:
    products, more = db.list_products(page.limit, page.after)
    response = jsonify(wrap(products))
    if more:
        response.headers["Link"] = pagination.next_link(request.path, page, products[-1]["id"])
    return response


@bp.get("")
def list_products() -> Response:
    """List one page of products, by id; the next page is in the Link header."""
    return _page_response(pagination.parse(request.args), lambda products: products)


@bp.get("/<rowid:product_id>")
def get_product(product_id: int) -> Response:
    """Show one product, or 404."""
    product = db.get_product(product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return jsonify(product)


@bp.post("")
def create_product() -> tuple[Response, int]:
    """Create a product as the caller; auth is checked first (401 beats 400)."""
    user = _authenticated_user()
    name, price = _validated(json_object())
    return jsonify(db.insert_product(name, price, user["username"])), 201


@bp.get("/validate-user")
def validate_user() -> Response:
    """Show who user-service says the caller is, with a page of products."""
    page = pagination.parse(request.args)  # before the call: a bad page costs no round trip
    user = _authenticated_user()
    return _page_response(page, lambda products: {"user": user, "products": products})

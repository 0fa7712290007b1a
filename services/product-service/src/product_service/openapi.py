"""product-service's OpenAPI document, from the limits the code enforces.

Regenerate the checked-in copy after a change:
`.venv/bin/python -m product_service.openapi > services/product-service/openapi.json`
"""

from __future__ import annotations

from servicekit import openapi
from servicekit.openapi import body_errors, error, json_body, operation, response, schema_ref, tagged

from product_service import pagination, products

INFO = openapi.Info(
    "product-service", "1.1.0", "The product catalogue; writes are authorised by user-service."
)

UNAUTHORIZED = (
    "user-service refused the bearer token (missing, malformed, expired, ...); its JSON body "
    "and WWW-Authenticate challenge are passed through unchanged."
)


def _link(path: str) -> dict[str, object]:
    return {
        "Link": {
            "description": f'The next page, when there is one: `<{path}?limit=20&cursor=...>; rel="next"` '
            "(RFC 8288). The target is a relative reference (path and query), resolved against "
            "the request's URL. Absent on the last page.",
            "schema": {"type": "string"},
        }
    }


def _dependency_errors() -> dict[str, object]:
    return {
        "502": error("user-service failed or sent an invalid answer.", "DependencyError"),
        "503": error("user-service is unreachable.", "DependencyError"),
        "504": error("user-service did not answer within its read timeout.", "DependencyError"),
    }


def _schemas() -> dict[str, object]:
    summary_properties = {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string"},
        "price": {"type": "number", "minimum": 0},
    }
    return {
        "ProductSummary": {
            "type": "object",
            "required": ["id", "name", "price"],
            "properties": summary_properties,
            "additionalProperties": False,
        },
        "Product": {
            "type": "object",
            "required": ["id", "name", "price", "created_by"],
            "properties": {
                **summary_properties,
                "created_by": {
                    "type": "string",
                    "nullable": True,
                    "description": "The creator's username; null for the seed's products.",
                },
            },
            "additionalProperties": False,
        },
        "NewProduct": {
            "type": "object",
            "required": ["name", "price"],
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": products.NAME_MAX,
                    "pattern": r"\S",
                    "description": "Stored without leading and trailing whitespace.",
                },
                "price": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": products.PRICE_MAX,
                    "description": "Stored rounded to cents.",
                },
            },
        },
        # Passed on as user-service sent it.
        "AuthenticatedUser": openapi.authenticated_user({"type": "string"}),
        "ValidatedUser": {
            "type": "object",
            "required": ["user", "products"],
            "properties": {
                "user": schema_ref("AuthenticatedUser"),
                "products": {
                    "type": "array",
                    "items": schema_ref("ProductSummary"),
                    "maxItems": pagination.MAX_LIMIT,
                    "description": "The first page of the catalogue (or the page `cursor` names).",
                },
            },
            "additionalProperties": False,
        },
        "DependencyError": {
            "type": "object",
            "required": ["error", "dependency"],
            "properties": {
                "error": {"type": "string"},
                "dependency": {"type": "string", "enum": ["user-service"]},
            },
            "additionalProperties": False,
        },
    }


def _parameters() -> dict[str, object]:
    return {
        "Limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Page size, 1-{pagination.MAX_LIMIT} (default {pagination.DEFAULT_LIMIT}).",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": pagination.MAX_LIMIT,
                "default": pagination.DEFAULT_LIMIT,
            },
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "Opaque: copy it from a Link header, never build it. Absent: the first page.",
            "schema": {
                "type": "string",
                "pattern": f"^{pagination.CURSOR_PATTERN}$",
                "minLength": pagination.CURSOR_LENGTH,
                "maxLength": pagination.CURSOR_LENGTH,
            },
        },
        "ProductId": {
            "name": "product_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": products.ID_MAX},
        },
    }


def build() -> openapi.Document:
    """Return the whole document."""
    page = [{"$ref": "#/components/parameters/Limit"}, {"$ref": "#/components/parameters/Cursor"}]
    bad_page = error("`limit` or `cursor` is invalid, or given twice; `field` names it.")
    challenge = {
        "WWW-Authenticate": {"description": "user-service's challenge.", "schema": {"type": "string"}}
    }
    paths = tagged(
        "products",
        {
            "/products": {
                "get": operation(
                    "listProducts",
                    "List products by id, ascending, one page at a time.",
                    {
                        "200": response(
                            "One page of products; the next page's address is in the Link header.",
                            {
                                "type": "array",
                                "items": schema_ref("ProductSummary"),
                                "maxItems": pagination.MAX_LIMIT,
                            },
                            headers=_link("/products"),
                        ),
                        "400": bad_page,
                    },
                    parameters=page,
                ),
                "post": operation(
                    "createProduct",
                    "Create a product as the caller.",
                    {
                        "201": response("Created.", schema_ref("Product")),
                        **body_errors(),
                        "401": error(UNAUTHORIZED, headers=challenge),
                        **_dependency_errors(),
                    },
                    description="The token is checked with user-service first, so 401 comes before 400.",
                    request_body=json_body("NewProduct", "The product; unknown fields are ignored."),
                    bearer=True,
                ),
            },
            "/products/{product_id}": {
                "get": operation(
                    "getProduct",
                    "Show one product and who created it.",
                    {
                        "200": response("The product.", schema_ref("Product")),
                        "404": error("No product has this id (including ids that cannot exist)."),
                    },
                    parameters=[{"$ref": "#/components/parameters/ProductId"}],
                )
            },
            "/products/validate-user": {
                "get": operation(
                    "validateUser",
                    "Who user-service says the caller is, with a page of the catalogue.",
                    {
                        "200": response(
                            "The caller and a page of products; the next page's address is in the Link "
                            "header.",
                            schema_ref("ValidatedUser"),
                            headers=_link("/products/validate-user"),
                        ),
                        "400": bad_page,
                        "401": error(UNAUTHORIZED, headers=challenge),
                        **_dependency_errors(),
                    },
                    description="`limit` and `cursor` are checked before the call to user-service.",
                    parameters=page,
                    bearer=True,
                )
            },
        },
    )
    return openapi.document(INFO, paths=paths, schemas=_schemas(), parameters=_parameters())


if __name__ == "__main__":
    print(openapi.dumps(build()), end="")  # noqa: T201 - writes the checked-in copy

"""OpenAPI 3 documents built from the code's own limits, and served at GET /openapi.json.

Each service builds its document in Python from the constants its validation uses,
so a changed limit changes the document; the checked-in `openapi.json` next to the
service is that document written out, and a unit test keeps the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from flask import Flask, Response, current_app, jsonify

OPENAPI_VERSION = "3.0.3"
PATH = "/openapi.json"

Document = dict[str, Any]


class Info(NamedTuple):
    """The document's info object: whose document it is, and which version of the API."""

    title: str
    version: str
    description: str


#: The security scheme of the operations that need a token (operation(bearer=True)).
BEARER = "bearerAuth"
_BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def schema_ref(name: str) -> dict[str, str]:
    """A reference to a schema under components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def response(
    description: str, schema: Mapping[str, Any] | None = None, *, headers: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A response that carries X-Request-ID (every response does) and, if given, a JSON body."""
    out: dict[str, Any] = {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}, **(headers or {})},
    }
    if schema is not None:
        out["content"] = {"application/json": {"schema": dict(schema)}}
    return out


def error(
    description: str, schema: str = "Error", *, headers: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An error response with a JSON error body."""
    return response(description, schema_ref(schema), headers=headers)


def body_errors() -> dict[str, Any]:
    """The answers every operation that reads a JSON body may give."""
    return {
        "400": error(
            "The body is not a JSON object (malformed, empty, nested deeper than allowed) or a "
            "field is missing or invalid, including strings that are not valid Unicode (lone "
            "surrogate escapes); `field` names the field when there is one."
        ),
        "413": error("The body is larger than 1 MiB (by Content-Length, or as sent chunked)."),
        "415": error("The Content-Type is not application/json."),
    }


def json_body(schema_name: str, description: str) -> dict[str, Any]:
    """A required JSON request body."""
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema_ref(schema_name)}},
    }


def authenticated_user(message: Mapping[str, Any]) -> dict[str, Any]:
    """user-service's answer to GET /users/authenticate, which product-service passes on.

    Both services document it; message is what each one promises about the `message` field.
    """
    return {
        "type": "object",
        "required": ["user_id", "username", "message"],
        "properties": {
            "user_id": {"type": "integer", "minimum": 1},
            "username": {"type": "string"},
            "message": dict(message),
        },
        "additionalProperties": False,
    }


def operation(
    operation_id: str,
    summary: str,
    responses: Mapping[str, Any],
    *,
    description: str | None = None,
    parameters: Iterable[Mapping[str, Any]] = (),
    request_body: Mapping[str, Any] | None = None,
    bearer: bool = False,
) -> dict[str, Any]:
    """One operation; every operation accepts an optional X-Request-ID. bearer: it needs a token."""
    out: dict[str, Any] = {"operationId": operation_id, "summary": summary}
    if description:
        out["description"] = description
    out["parameters"] = [{"$ref": "#/components/parameters/RequestId"}, *map(dict, parameters)]
    if request_body is not None:
        out["requestBody"] = dict(request_body)
    if bearer:
        out["security"] = [{BEARER: []}]
    out["responses"] = dict(responses)
    return out


def tagged(tag: str, paths: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The paths with each operation under one tag (the group the docs list it in)."""
    return {
        path: {
            method: {"operationId": op["operationId"], "summary": op["summary"], "tags": [tag], **op}
            for method, op in methods.items()
        }
        for path, methods in paths.items()
    }


def _common_schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "description": "Every error: a message, and the field or dependency at fault when there is one.",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "field": {"type": "string", "description": "The request field at fault."},
                "dependency": {"type": "string", "description": "The service that failed."},
            },
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}},
            "additionalProperties": False,
        },
        "Ready": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ready"]}},
            "additionalProperties": False,
        },
        "Unavailable": {
            "type": "object",
            "required": ["status", "error"],
            "properties": {
                "status": {"type": "string", "enum": ["unavailable"]},
                "error": {"type": "string"},
            },
            "additionalProperties": False,
        },
    }


def _common_paths() -> dict[str, Any]:
    ready = {
        "200": response("Ready.", schema_ref("Ready")),
        "503": response("Not ready; `error` says why.", schema_ref("Unavailable")),
    }
    return tagged(
        "operations",
        {
            "/health": {
                "get": operation(
                    "health",
                    "Liveness: answers without touching any dependency.",
                    {"200": response("Alive.", schema_ref("Health"))},
                )
            },
            "/ready": {
                "get": operation(
                    "ready", "Readiness: the service's own database opens and its table reads.", ready
                )
            },
            PATH: {
                "get": operation(
                    "openapi",
                    "This document.",
                    {"200": response("The OpenAPI description of this service.", {"type": "object"})},
                )
            },
        },
    )


def document(
    info: Info,
    *,
    paths: Mapping[str, Any],
    schemas: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
) -> Document:
    """A whole document: the service's own paths and schemas plus the shared ones.

    The bearer scheme is declared when an operation needs it (operation(bearer=True)).
    """
    components: dict[str, Any] = {
        "schemas": {**_common_schemas(), **schemas},
        "parameters": {
            "RequestId": {
                "name": "X-Request-ID",
                "in": "header",
                "required": False,
                "description": "Correlates log lines across services. Reused when it matches "
                "[A-Za-z0-9._-]{1,128}, otherwise replaced by a generated one (never refused).",
                "schema": {"type": "string"},
            },
            **(parameters or {}),
        },
        "headers": {
            "RequestId": {
                "description": "The request's id: the caller's X-Request-ID if it was valid, else a new one.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
            },
        },
    }
    if any("security" in op for methods in paths.values() for op in methods.values()):
        components["securitySchemes"] = {BEARER: dict(_BEARER_SCHEME)}
    return {
        "openapi": OPENAPI_VERSION,
        "info": info._asdict(),
        "paths": {**_common_paths(), **paths},
        "components": components,
    }


def dumps(doc: Document) -> str:
    """The document as the checked-in file holds it: indented, ending with a newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def init_app(app: Flask, build: Callable[[], Document]) -> None:
    """Serve the document at GET /openapi.json, built once per app."""
    app.extensions["openapi"] = build()

    def openapi() -> Response:
        return jsonify(current_app.extensions["openapi"])

    app.add_url_rule(PATH, "openapi", openapi, methods=["GET"])

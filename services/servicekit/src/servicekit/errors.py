"""JSON errors for every failure: clients never parse HTML or see a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

log = logging.getLogger("servicekit.errors")


class APIError(Exception):
    """An error with a status code and a JSON body; raise it from any view."""

    status_code = 500

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """Return the JSON document sent to the client."""
        return {"error": self.message, **self.extra}

    def to_response(self) -> Response:
        """Render the error as a JSON response."""
        response = jsonify(self.body())
        response.status_code = self.status_code
        response.headers.update(self.headers)
        return response


class ValidationError(APIError):
    """A request field is missing or invalid (400, names the field)."""

    status_code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, extra={"field": field})
        self.field = field


class ConflictError(APIError):
    """The request clashes with existing state, e.g. a taken username (409)."""

    status_code = 409

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, extra={"field": field})
        self.field = field


class UnauthorizedError(APIError):
    """Credentials are missing or wrong (401 with a WWW-Authenticate challenge)."""

    status_code = 401

    def __init__(self, message: str, *, challenge: str = "Bearer") -> None:
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class TooManyRequestsError(APIError):
    """The caller must wait before trying again (429 with Retry-After in seconds)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailableError(APIError):
    """The service is too busy to take this request now (503 with Retry-After in seconds)."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class DependencyError(APIError):
    """A service we depend on failed (502/503/504); says which one."""

    def __init__(self, dependency: str, message: str, *, status_code: int) -> None:
        super().__init__(message, status_code=status_code, extra={"dependency": dependency})
        self.dependency = dependency


def _handle_api_error(error: APIError) -> Response:
    return error.to_response()


def _handle_http_exception(error: HTTPException) -> WerkzeugResponse:
    # get_response keeps headers such as Allow (405); only the body is replaced.
    response = error.get_response()
    response.set_data(jsonify({"error": error.description or error.name}).get_data())
    response.content_type = "application/json"
    return response


def _handle_unexpected(error: Exception) -> tuple[Response, int]:
    # The traceback goes to our log only; the client learns nothing about internals.
    log.error("unhandled exception", exc_info=error)
    return jsonify({"error": "internal server error"}), 500


def init_app(app: Flask) -> None:
    """Register JSON handlers for API errors, HTTP errors and anything unexpected."""
    app.register_error_handler(APIError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)

"""The client for user-service: bounded timeouts, safe retries, mapped failures."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from requests.exceptions import InvalidHeader
from requests.utils import check_header_validity
from servicekit import request_id
from servicekit.errors import APIError, DependencyError, UnauthorizedError
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

DEPENDENCY = "user-service"
# user-service's own words and challenge for a header it cannot read.
MALFORMED_AUTHORIZATION = "Authorization header must be 'Bearer <token>'"
INVALID_CHALLENGE = 'Bearer realm="user-service", error="invalid_token"'
log = logging.getLogger(__name__)


class UpstreamUnauthorizedError(APIError):
    """user-service refused the credentials; status, body and challenge pass through."""

    status_code = 401

    def __init__(self, payload: dict[str, Any], challenge: str | None) -> None:
        super().__init__(str(payload.get("error", "unauthorized")))
        self.payload = payload
        if challenge:
            self.headers["WWW-Authenticate"] = challenge

    def body(self) -> dict[str, Any]:
        """Return user-service's JSON body unchanged."""
        return self.payload


def _is_read_timeout(exc: requests.RequestException) -> bool:
    # requests reports a body that stalls mid-read as ConnectionError(ReadTimeoutError).
    if isinstance(exc, requests.ReadTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, ReadTimeoutError) or isinstance(
        getattr(reason, "reason", None), ReadTimeoutError
    )


def _forwardable(authorization: str) -> str:
    """The header as we may send it on; 401 for one that requests would refuse.

    requests refuses values with leading whitespace or line breaks (InvalidHeader),
    and its message quotes the value: it must become the caller's 401, not our 502
    with the credential in the log.
    """
    try:
        check_header_validity(("Authorization", authorization))
    except InvalidHeader:
        raise UnauthorizedError(MALFORMED_AUTHORIZATION, challenge=INVALID_CHALLENGE) from None
    return authorization


class UserServiceClient:
    """Calls user-service; one requests.Session per thread (it is not thread-safe)."""

    def __init__(
        self,
        base_url: str,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        backoff: float = 0.1,
        keepalive_idle: float = 0.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.keepalive_idle = keepalive_idle
        self._local = threading.local()

    def make_session(self) -> requests.Session:
        """Build a session that retries only failed connections, only for GET/HEAD."""
        retry = Retry(
            total=None,
            connect=self.retries,
            # read=False re-raises the original timeout (read=0 would wrap it as a
            # connection error), so a slow user-service is told apart from a dead one.
            read=False,
            status=0,
            other=0,
            redirect=0,
            # urllib3 sleeps backoff * 2**(n-1) before the n-th retry, none before the first.
            backoff_factor=self.backoff,
            allowed_methods=frozenset({"GET", "HEAD"}),
            status_forcelist=(),
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "product-service"
        return session

    @property
    def session(self) -> requests.Session:
        """Return this thread's session, creating it on first use."""
        if not hasattr(self._local, "session"):
            self._local.session = self.make_session()
        return self._local.session  # type: ignore[no-any-return]

    def authenticate(self, authorization: str | None) -> dict[str, Any]:
        """Return user-service's view of the token, or raise a mapped APIError."""
        url = f"{self.base_url}/users/authenticate"
        headers = {"Accept": "application/json"}
        if not self._reuse_connection():
            headers["Connection"] = "close"
        if authorization:
            headers["Authorization"] = _forwardable(authorization)
        rid = request_id.current()
        if rid:
            headers[request_id.HEADER] = rid
        started = time.perf_counter()
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise self._failure(exc, url, started) from None
        finally:
            self._local.last_used = time.monotonic()
        return self._interpret(response, url, started)

    def _reuse_connection(self) -> bool:
        """Keep this thread's connection only while it was used in the last keepalive_idle seconds.

        A kept-alive socket to a user-service that was restarted on a new address
        or cut off the network would sit until the read timeout (504) instead of
        failing at once as unreachable (503). Under load a thread calls again
        within milliseconds and saves a connection per call; a connection idle
        for longer is closed, so a call after a quiet spell connects afresh and
        fails fast. 0 (the default) closes every connection after its call.
        """
        if not self.keepalive_idle:
            return False
        last_used = getattr(self._local, "last_used", None)
        if last_used is not None and time.monotonic() - last_used > self.keepalive_idle:
            self.session.close()  # drops the pooled connection; the next call opens a new one
        return True

    def _failure(self, exc: requests.RequestException, url: str, started: float) -> APIError:
        if _is_read_timeout(exc):
            status, message = (
                504,
                f"{DEPENDENCY} did not respond within {self.timeout[1]}s",
            )
        elif isinstance(exc, requests.ConnectionError):
            status, message = 503, f"{DEPENDENCY} is unreachable"
        else:
            status, message = 502, f"request to {DEPENDENCY} failed"
        self._log(message, url, started, error=repr(exc))
        return DependencyError(DEPENDENCY, message, status_code=status)

    def _interpret(self, response: requests.Response, url: str, started: float) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if (
            response.status_code == 200
            and isinstance(payload, dict)
            and isinstance(payload.get("user_id"), int)
            and isinstance(payload.get("username"), str)
        ):
            return payload
        if response.status_code == 401:
            body = payload if isinstance(payload, dict) else {"error": "unauthorized"}
            raise UpstreamUnauthorizedError(body, response.headers.get("WWW-Authenticate"))
        if response.status_code >= 500:
            message = f"{DEPENDENCY} failed with HTTP {response.status_code}"
        elif response.status_code == 200:
            message = f"{DEPENDENCY} sent an invalid response"
        else:
            message = f"{DEPENDENCY} answered with unexpected HTTP {response.status_code}"
        self._log(message, url, started, status=response.status_code)
        raise DependencyError(DEPENDENCY, message, status_code=502)

    def _log(self, message: str, url: str, started: float, **fields: Any) -> None:
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        log.warning(
            "outbound call failed: %s",
            message,
            extra={
                "dependency": DEPENDENCY,
                "url": url,
                "duration_ms": elapsed,
                **fields,
            },
        )


def init_app(app: Flask) -> None:
    """Create the client from config and keep it on the app."""
    app.extensions["user_client"] = UserServiceClient(
        app.config["USER_SERVICE_URL"],
        app.config["USER_SERVICE_CONNECT_TIMEOUT"],
        app.config["USER_SERVICE_READ_TIMEOUT"],
        app.config["USER_SERVICE_RETRIES"],
        app.config["USER_SERVICE_RETRY_BACKOFF"],
        app.config["USER_SERVICE_KEEPALIVE_IDLE"],
    )


def client() -> UserServiceClient:
    """Return the current app's user-service client."""
    return current_app.extensions["user_client"]  # type: ignore[no-any-return]

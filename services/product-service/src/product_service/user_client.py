"""The client for user-service: pooled urllib3, bounded timeouts, safe retries, mapped failures."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import urllib3
from flask import Flask, current_app
from servicekit import request_id
from servicekit.errors import APIError, DependencyError, UnauthorizedError
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

DEPENDENCY = "user-service"
AUTHENTICATE_PATH = "/users/authenticate"
USER_AGENT = "product-service"
# user-service's own words and challenge for a header it cannot read.
MALFORMED_AUTHORIZATION = "Authorization header must be 'Bearer <token>'"
INVALID_CHALLENGE = 'Bearer realm="user-service", error="invalid_token"'
# A header value we pass on starts with a visible character and holds no line break
# (requests' rule, which this client had before): leading whitespace of any kind,
# Unicode's included, would be dropped or refused on the way.
SENDABLE_HEADER = re.compile(r"\S[^\r\n]*\Z")
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


def _forwardable(authorization: str) -> str:
    """The header as we may send it on; the caller's 401 for one we cannot send.

    Never a 502 from deep in the HTTP client, whose message would quote the
    credential into our log.
    """
    if SENDABLE_HEADER.match(authorization) is None:
        raise UnauthorizedError(MALFORMED_AUTHORIZATION, challenge=INVALID_CHALLENGE)
    try:
        authorization.encode("latin-1")  # what HTTP/1.1 header bytes can carry
    except UnicodeEncodeError:
        raise UnauthorizedError(MALFORMED_AUTHORIZATION, challenge=INVALID_CHALLENGE) from None
    return authorization


def _is_read_timeout(exc: HTTPError) -> bool:
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, ReadTimeoutError)


class UserServiceClient:
    """Calls user-service through one urllib3 connection pool per thread.

    Proxy variables (HTTP_PROXY, ...) are ignored unless trust_env_proxy is set:
    a caller's bearer token goes to user-service and nowhere else.
    """

    def __init__(
        self,
        base_url: str,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        backoff: float = 0.1,
        keepalive_idle: float = 0.0,
        trust_env_proxy: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.keepalive_idle = keepalive_idle
        self.trust_env_proxy = trust_env_proxy
        self.url = self.base_url + AUTHENTICATE_PATH
        self.retry = Retry(
            total=None,
            connect=retries,
            # read=False re-raises the original timeout (read=0 would wrap it as a
            # connection error), so a slow user-service is told apart from a dead one.
            read=False,
            status=0,
            other=0,
            redirect=0,
            # urllib3 sleeps backoff * 2**(n-1) before the n-th retry, none before the first.
            backoff_factor=backoff,
            allowed_methods=frozenset({"GET", "HEAD"}),
            status_forcelist=(),
            respect_retry_after_header=False,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        self._timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self._local = threading.local()

    def proxy(self) -> str | None:
        """The proxy the environment names for user-service, if we are told to trust it."""
        if not self.trust_env_proxy:
            return None
        parts = urlsplit(self.base_url)
        if proxy_bypass(parts.hostname or ""):  # NO_PROXY
            return None
        return getproxies_environment().get(parts.scheme)

    def make_pool(self) -> urllib3.PoolManager | urllib3.HTTPConnectionPool:
        """Build a pool holding at most one connection: each thread has its own."""
        proxy = self.proxy()
        if proxy is not None:
            # A proxy gets the absolute URL, through a manager that knows it is one.
            return urllib3.ProxyManager(proxy, num_pools=1, maxsize=1, headers={"User-Agent": USER_AGENT})
        return urllib3.connection_from_url(self.base_url, maxsize=1)

    @property
    def pool(self) -> urllib3.PoolManager | urllib3.HTTPConnectionPool:
        """Return this thread's pool, creating it on first use."""
        pool: urllib3.PoolManager | urllib3.HTTPConnectionPool | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = self.make_pool()
        return pool

    def authenticate(self, authorization: str | None) -> dict[str, Any]:
        """Return user-service's view of the token, or raise a mapped APIError."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        reuse = self._reuse_connection()
        if not reuse:
            headers["Connection"] = "close"
        if authorization:
            headers["Authorization"] = _forwardable(authorization)
        rid = request_id.current()
        if rid:
            headers[request_id.HEADER] = rid
        pool = self.pool
        # A pool for user-service takes the path; a proxy takes the whole URL.
        target = self.url if isinstance(pool, urllib3.PoolManager) else AUTHENTICATE_PATH
        started = time.perf_counter()
        try:
            response = pool.urlopen(
                "GET",
                target,
                headers=headers,
                retries=self.retry,
                timeout=self._timeout,
                redirect=False,
                preload_content=False,
            )
            body = self._body(response, started)
        except HTTPError as exc:
            raise self._failure(exc, started) from None
        finally:
            self._local.last_used = time.monotonic()
            if not reuse:
                # Closed here, not left to the server: a server that closes late (or not
                # at all) would otherwise see the next call on this socket, and that
                # call fail as "Remote end closed connection" (a 503) under load.
                self._drop_pool()
        return self._interpret(response, body, started)

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
            self._drop_pool()  # the next call opens a new connection
        return True

    def _drop_pool(self) -> None:
        pool = getattr(self._local, "pool", None)
        self._local.pool = None
        if isinstance(pool, urllib3.PoolManager):
            pool.clear()
        elif pool is not None:
            pool.close()

    def _body(self, response: urllib3.BaseHTTPResponse, started: float) -> bytes:
        """The answer's body; an answer cut off mid-body (reset, short) is a bad gateway (502).

        Headers came, so user-service was reachable: unlike a connection that never
        answered (503), this is a broken answer. A body slower than the read timeout
        is still a 504.
        """
        try:
            return response.read()
        except HTTPError as exc:
            if _is_read_timeout(exc):
                raise
            message = f"{DEPENDENCY}'s answer was cut off"
            self._log(message, started, status=response.status, error=repr(exc))
            raise DependencyError(DEPENDENCY, message, status_code=502) from None
        finally:
            response.release_conn()

    def _failure(self, exc: HTTPError, started: float) -> APIError:
        if _is_read_timeout(exc):
            status, message = 504, f"{DEPENDENCY} did not respond within {self.timeout[1]}s"
        elif isinstance(exc, (MaxRetryError, ProtocolError)):
            # No connection (refused, no such name, connect timeout), or one dropped before any answer.
            status, message = 503, f"{DEPENDENCY} is unreachable"
        else:
            status, message = 502, f"request to {DEPENDENCY} failed"
        self._log(message, started, error=repr(exc))
        return DependencyError(DEPENDENCY, message, status_code=status)

    def _interpret(self, response: urllib3.BaseHTTPResponse, data: bytes, started: float) -> dict[str, Any]:
        try:
            payload = json.loads(data)
        except ValueError:  # not JSON, or not text at all
            payload = None
        if (
            response.status == 200
            and isinstance(payload, dict)
            and isinstance(payload.get("user_id"), int)
            and isinstance(payload.get("username"), str)
        ):
            return payload
        if response.status == 401:
            body = payload if isinstance(payload, dict) else {"error": "unauthorized"}
            raise UpstreamUnauthorizedError(body, response.headers.get("WWW-Authenticate"))
        if response.status >= 500:
            message = f"{DEPENDENCY} failed with HTTP {response.status}"
        elif response.status == 200:
            message = f"{DEPENDENCY} sent an invalid response"
        else:
            message = f"{DEPENDENCY} answered with unexpected HTTP {response.status}"
        self._log(message, started, status=response.status)
        raise DependencyError(DEPENDENCY, message, status_code=502)

    def _log(self, message: str, started: float, **fields: Any) -> None:
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        log.warning(
            "outbound call failed: %s",
            message,
            extra={"dependency": DEPENDENCY, "url": self.url, "duration_ms": elapsed, **fields},
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
        app.config["USER_SERVICE_TRUST_ENV_PROXY"],
    )


def client() -> UserServiceClient:
    """Return the current app's user-service client."""
    return current_app.extensions["user_client"]  # type: ignore[no-any-return]

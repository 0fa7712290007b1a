"""HTTP clients bound to one service, for tests to call it in one line."""

from __future__ import annotations

import itertools
import re
import secrets
import weakref
from collections.abc import Callable
from time import monotonic
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

DEFAULT_TIMEOUT = 10.0
# A kept-alive connection idle this long is not reused. Servers close idle ones on a timer
# (gunicorn after 2 s, uvicorn and Node after 5 s), and a request sent just as the server
# closes is lost with no answer: a reset the service never saw. Below every common timer.
IDLE_REUSE = 1.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Every ServiceClient still alive in this process, for close_idle_connections.
_OPEN: weakref.WeakSet[ServiceClient] = weakref.WeakSet()


def request_id_prefix(test_name: str) -> str:
    """A request-id prefix that names the test and is unique to this run."""
    return f"{_UNSAFE.sub('-', test_name)[:80].strip('-')}-{secrets.token_hex(3)}"


class ServiceClient(requests.Session):
    """A requests session for one service: base URL, default timeout, X-Request-ID.

    Paths are relative to the service's base URL, which is looked up on every
    call so that a service restarted on a new host port is still reached.
    Every call carries a fresh X-Request-ID (`last_request_id`) unless one is given.
    After `IDLE_REUSE` seconds without a call, the next one opens new connections.

    It ignores the environment's proxy settings (HTTP_PROXY, HTTPS_PROXY,
    ALL_PROXY; `trust_env` is False, which also skips .netrc and
    REQUESTS_CA_BUNDLE): the services answer on ports published on this host or
    the engine's, which a proxy can't reach, and a proxy would see every token
    the tests send. A test that does want one sets `client.proxies` or passes
    `proxies=` to a call; both still apply.
    """

    service: str
    timeout: float
    last_request_id: str  # the X-Request-ID of the last call
    trust_env: bool

    def __init__(
        self,
        service: str,
        base_url: Callable[[], str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        request_id_prefix: str = "test",
    ) -> None:
        super().__init__()
        self.trust_env = False
        self.service = service
        self._base_url = base_url
        self.timeout = timeout
        self._prefix = request_id_prefix
        self._counter = itertools.count(1)
        self.last_request_id = ""
        self._idle_since: float | None = None  # when the last call ended
        _OPEN.add(self)

    @property
    def base_url(self) -> str:
        return self._base_url()

    def new_request_id(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if not url.startswith(("http://", "https://")):
            url = f"{self.base_url}/{url.lstrip('/')}"
        kwargs.setdefault("timeout", self.timeout)
        headers = CaseInsensitiveDict(kwargs.pop("headers", None) or {})
        headers.setdefault("X-Request-ID", self.new_request_id())
        self.last_request_id = headers["X-Request-ID"]
        if self._idle_since is not None and monotonic() - self._idle_since >= IDLE_REUSE:
            self.close()  # the service may be closing them right now: new ones
        try:
            return super().request(method, url, headers=headers, **kwargs)
        finally:
            self._idle_since = monotonic()

    def __repr__(self) -> str:
        return f"<ServiceClient {self.service}>"


def close_idle_connections(service: str) -> int:
    """Close the pooled connections of every client of `service`; return how many clients.

    Before a graceful stop: gunicorn lets a stopping worker keep an idle
    kept-alive connection open for up to 2 s (in case a request is already on
    its way), so one test client's idle pool slows every stop by that much. The
    clients stay usable: their next call opens a new connection.
    """
    clients = [client for client in list(_OPEN) if client.service == service]
    for client in clients:
        client.close()
    return len(clients)

"""Doubles: a service answers as a test tells it, for that test only, through its recording proxy.

    doubles["user-service"].on("GET", "/users/authenticate").respond(200, body=b"{not json")

A rule matches by method and a path pattern (`fnmatch`: `*` matches across
`/`, the query string is ignored); requests that match no rule reach the real
service. Every rule is removed when the test ends, and the test errors if the
real service doesn't answer through its proxy afterwards.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pytest_microstack._errors import DoubleError
from pytest_microstack._exchanges.records import Exchange

MALFORMED_JSON = b'{"unterminated": [1, 2'


# What a Double needs from the stack: send a control call, read the exchanges since a time.
Control = Callable[[str, str, Any], Any]
Calls = Callable[[float], list[Exchange]]


class DoubleRule:
    """Requests one rule matches, and (once one of its answering methods is called) how they are answered.

    Each answering method sets the rule on the proxy at once and returns the rule.
    """

    method: str
    path: str
    nth_call: int | None
    answer: dict[str, Any] | None

    def __init__(self, double: Double, method: str, path: str) -> None:
        if not path.startswith("/"):
            raise DoubleError(f"{double.service}: path pattern {path!r} must start with /")
        self._double = double
        self.method = method.upper()
        self.path = path
        self.nth_call = None
        self.answer = None

    @property
    def id(self) -> str:
        nth = f" (call {self.nth_call})" if self.nth_call else ""
        return f"{self.method} {self.path}{nth}"

    def nth(self, call: int) -> DoubleRule:
        """Answer only the `call`-th matching request (1 for the first); the others reach the real service."""
        if call < 1:
            raise DoubleError(f"{self._double.service}: nth({call}): calls are counted from 1")
        self.nth_call = call
        return self

    def respond(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
        rate: float | None = None,
        reset_after: int | None = None,
        content_length: int | None = None,
    ) -> DoubleRule:
        """Answer with `status`, `headers` and `body` instead of the service.

        delay: seconds before the headers are sent; rate: the body trickles at
        this many bytes per second; reset_after: the connection is reset after
        this many bytes of the body; content_length: the Content-Length header
        says this instead of the body's real length (then the connection closes).
        """
        if not 100 <= status <= 999:
            raise DoubleError(f"{self._double.service}: status {status} is not a three-digit code")
        if rate is not None and rate <= 0:
            raise DoubleError(f"{self._double.service}: rate {rate} must be more than 0 bytes/s")
        data = body.encode() if isinstance(body, str) else bytes(body)
        answer: dict[str, Any] = {
            "status": status,
            "body": base64.b64encode(data).decode(),
            "headers": [[name, value] for name, value in (headers or {}).items()],
        }
        for name, value in (
            ("delay", delay or None),
            ("rate", rate),
            ("reset_after", reset_after),
            ("content_length", content_length),
        ):
            if value is not None:
                answer[name] = value
        return self._set(answer)

    def malformed_json(self, status: int = 200) -> DoubleRule:
        """Answer `status` with a JSON content type and a body that is not JSON."""
        return self.respond(status, MALFORMED_JSON, {"Content-Type": "application/json"})

    def redirect(self, location: str, status: int = 302) -> DoubleRule:
        """Answer a redirect to `location`."""
        return self.respond(status, headers={"Location": location})

    def close(self) -> DoubleRule:
        """Close the connection without any response (after reading the request)."""
        return self._set({"close": True})

    def passthrough(self, status: int) -> DoubleRule:
        """Let the real service answer, with `status` instead of its own (its headers and body kept)."""
        if not 100 <= status <= 999:
            raise DoubleError(f"{self._double.service}: status {status} is not a three-digit code")
        return self._set({"pass_status": status})

    def _set(self, answer: dict[str, Any]) -> DoubleRule:
        self.answer = answer
        self._double._apply()
        return self

    def _spec(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "nth": self.nth_call,
            "respond": self.answer,
        }


class Double:
    """One service's double for the current test: its rules and the calls it received."""

    service: str
    rules: list[DoubleRule]

    def __init__(self, service: str, control: Control, calls: Calls) -> None:
        self.service = service
        self._control = control
        self._calls = calls
        self._since = time.time()
        self.rules = []

    def on(self, method: str, path: str) -> DoubleRule:
        """A rule for requests with this method (or "*") whose path matches `path` (fnmatch)."""
        rule = DoubleRule(self, method, path)
        self.rules.append(rule)
        return rule

    @property
    def calls(self) -> list[Exchange]:
        """What the service received since this double was made (answered by a rule or not), oldest first."""
        return self._calls(self._since)

    def _apply(self) -> None:
        specs = [rule._spec() for rule in self.rules if rule.answer is not None]
        try:
            self._control("PUT", "/rules", specs)
        except (OSError, ValueError) as error:
            raise DoubleError(f"{self.service}: its proxy refused the rules: {error}") from None

    def remove(self) -> None:
        """Remove every rule; the proxy must then hold none."""
        self.rules.clear()
        try:
            self._control("DELETE", "/rules", None)
            left = self._control("GET", "/rules", None)
        except (OSError, ValueError) as error:
            raise DoubleError(f"{self.service}: its rules could not be removed: {error}") from None
        if left:
            raise DoubleError(f"{self.service}: its proxy still holds rules after removal: {left}")


class Doubles(Mapping[str, Double]):
    """The `doubles` fixture: `doubles[service]` for each service the harness proxies."""

    def __init__(self, make: Callable[[str], Double], services: list[str]) -> None:
        self._make = make
        self._services = services
        self._made: dict[str, Double] = {}

    def __getitem__(self, service: str) -> Double:
        if service not in self._services:
            known = ", ".join(self._services) or (
                "none: this stack records no exchanges (stack_exchanges = false, --no-stack-exchanges, "
                "or a --reuse-stack stack started without them)"
            )
            raise KeyError(f"{service!r} has no double: only proxied services do ({known})")
        if service not in self._made:
            self._made[service] = self._make(service)
        return self._made[service]

    def __iter__(self) -> Iterator[str]:
        return iter(self._services)

    def __len__(self) -> int:
        return len(self._services)

    def _used(self) -> list[Double]:
        return list(self._made.values())

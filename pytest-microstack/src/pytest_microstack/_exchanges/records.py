"""The exchanges as the plugin sees them: fetched from the proxies, callers named, masked, one line each."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_microstack._engine.containers import list_containers
from pytest_microstack._ownership import PROJECT_LABEL, SERVICE_LABEL
from pytest_microstack._reports.masking import MASK, Masker, is_sensitive

if TYPE_CHECKING:
    from pytest_microstack._core.stack import Stack

CONTROL_TIMEOUT = 5.0
TESTS = "tests"  # the caller of whatever reaches a proxy through its published port
_SECRET_FIELD = re.compile(
    r'("[^"]*(?:secret|token|pass|auth|key|credential)[^"]*"\s*:\s*)"[^"]*"', re.IGNORECASE
)
_COOKIES = {"cookie", "set-cookie"}


@dataclass(frozen=True)
class Exchange:
    """One request a service received and what it answered (or, for a TCP service, one connection).

    `caller` is the calling service's name, or "tests" for calls from the test
    process. Times: `start` in seconds since the epoch, `duration_ms` from the
    request's head to the response's end. Bodies keep their first KiB only.
    Headers and bodies are masked as every report is.
    """

    service: str
    caller: str
    method: str = ""
    path: str = ""
    status: int | None = None
    start: float = 0.0
    duration_ms: float = 0.0
    request_size: int = 0
    response_size: int = 0
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    request_body: str = ""
    response_body: str = ""
    error: str = ""
    double: str = ""  # the rule of a double that answered, if one did
    pending: bool = False  # still in flight when fetched
    sent: int = 0  # TCP: bytes from the caller
    received: int = 0  # TCP: bytes to the caller

    def line(self) -> str:
        """`product-service → user-service  GET /users/authenticate  200  3.1 ms`."""
        who = f"{self.caller} → {self.service}"
        if not self.method:  # a TCP connection, or one refused before any request
            what = (
                f"TCP  {self.sent} B sent, {self.received} B received" if not self.error else "(no request)"
            )
        else:
            what = f"{self.method} {self.path}  {self.status if self.status is not None else '---'}"
        notes = [note for note in (self.error, f"double: {self.double}" if self.double else "") if note]
        timing = "in flight" if self.pending else f"{self.duration_ms:.1f} ms"
        return f"{who}  {what}  {timing}" + (f"  ({'; '.join(notes)})" if notes else "")


def control_call(host: str, port: int, method: str, path: str, body: Any = None) -> Any:
    """One call to a proxy's control port; raises OSError or ValueError when it can't be had."""
    connection = http.client.HTTPConnection(host, port, timeout=CONTROL_TIMEOUT)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read() or b"null")
        if response.status != 200:
            raise ValueError(f"{method} {path} on the proxy at {host}:{port}: {response.status} {answer}")
        return answer
    finally:
        connection.close()


def callers(stack: Stack) -> dict[str, str]:
    """Every container address of the project -> its service name (the proxies' callers)."""
    found: dict[str, str] = {}
    for container in list_containers(stack.engine, {"label": f"{PROJECT_LABEL}={stack.project}"}):
        service = str(container.labels.get(SERVICE_LABEL) or container.name)
        for network in (container.attrs.get("NetworkSettings", {}).get("Networks") or {}).values():
            for key in ("IPAddress", "GlobalIPv6Address"):
                if network.get(key):
                    found[network[key]] = service
    return found


def fetch(stack: Stack, service: str, *, since: float = 0.0) -> list[Exchange]:
    """The exchanges `service`'s proxy recorded that started at `since` or later, oldest first (unmasked)."""
    sidecar = stack.fronts[service]
    control = proxy_control_port(stack, sidecar)
    host, port = stack.address(sidecar, control)
    answer = control_call(host, port, "GET", f"/records?since={since!r}")
    return [_exchange(record) for record in answer["records"]]


def proxy_control_port(stack: Stack, sidecar: str) -> int:
    from pytest_microstack._engine.proxy_wiring import control_port

    service = sidecar.removesuffix("--exchanges")
    port = stack.services[service].port
    assert port is not None, f"{service} is proxied, so it has a port"
    return control_port(port)


def _exchange(record: Mapping[str, Any]) -> Exchange:
    known = set(Exchange.__dataclass_fields__)
    values = {key: value for key, value in record.items() if key in known}
    for key in ("request_headers", "response_headers"):
        values[key] = tuple((str(name), str(value)) for name, value in values.get(key) or ())
    values["double"] = str(values.get("double") or "")
    values["error"] = str(values.get("error") or "")
    return Exchange(**values)


def named(exchanges: Iterable[Exchange], names: Mapping[str, str]) -> list[Exchange]:
    """The same exchanges with each caller's address replaced by its service (else `tests`)."""
    return [_replace(exchange, caller=names.get(exchange.caller, TESTS)) for exchange in exchanges]


def masked(exchange: Exchange, masker: Masker) -> Exchange:
    """Headers whose name looks secret (and cookies) hidden, known secrets and secret JSON fields too."""

    def headers(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return tuple(
            (name, MASK if is_sensitive(name) or name.lower() in _COOKIES else masker.text(value))
            for name, value in pairs
        )

    def body(text: str) -> str:
        return _SECRET_FIELD.sub(rf'\g<1>"{MASK}"', masker.text(text))

    return _replace(
        exchange,
        path=masker.text(exchange.path),
        request_headers=headers(exchange.request_headers),
        response_headers=headers(exchange.response_headers),
        request_body=body(exchange.request_body),
        response_body=body(exchange.response_body),
        error=masker.text(exchange.error),
    )


def _replace(exchange: Exchange, **changes: Any) -> Exchange:
    import dataclasses

    return dataclasses.replace(exchange, **changes)


def in_order(groups: Iterable[Iterable[Exchange]]) -> list[Exchange]:
    """Exchanges of several proxies as one list, by start time."""
    return sorted((exchange for group in groups for exchange in group), key=lambda exchange: exchange.start)


def as_json(exchange: Exchange) -> dict[str, Any]:
    """An exchange for the artifacts folder (one JSON object a line)."""
    import dataclasses

    return dataclasses.asdict(exchange)

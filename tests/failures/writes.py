"""Concurrent POST /products whose every request's state is known: unsent, in flight, answered.

Each request goes through its own `http.client` connection, so "sent" means
the whole request was written to the socket and "answered" means a status line
came back. A request sent but not answered is in flight; one that ends in a
connection error after being sent never got its answer.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Write:
    """One POST /products: what was asked, and what became of it."""

    name: str
    price: float
    sent_at: float | None = None  # time.monotonic() once the request was written
    status: int | None = None  # the HTTP status, if an answer came
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # the connection error, if no answer came

    @property
    def in_flight(self) -> bool:
        return self.sent_at is not None and self.status is None and not self.error

    @property
    def acknowledged(self) -> bool:
        return self.status == 201


class Writers:
    """`count` threads, each sending POST /products one after another until stopped (bounded)."""

    def __init__(
        self,
        address: tuple[str, int],
        token: str,
        *,
        count: int,
        per_writer: int,
        timeout: float,
        prefix: str,
    ) -> None:
        self.address = address
        self.token = token
        self.per_writer = per_writer
        self.timeout = timeout
        self.prefix = prefix
        self.writes: list[Write] = []
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(number,), name=f"writer-{number}", daemon=True)
            for number in range(count)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_until(self, condition: Callable[[list[Write]], bool], *, timeout: float, what: str) -> None:
        """Block until `condition(writes)` holds; checked at every change of any request."""
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self.writes), timeout=timeout):
                raise AssertionError(f"{what}: not seen within {timeout:.1f} s ({self.summary()})")

    def stop(self) -> list[Write]:
        """No new requests from now on; returns the requests in flight at this moment."""
        with self.changed:
            self.stopping.set()
            return [write for write in self.writes if write.in_flight]

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        assert not alive, f"writers still running after {timeout:.1f} s: {alive}"

    def summary(self) -> str:
        sent = [write for write in self.writes if write.sent_at is not None]
        return (
            f"{len(self.writes)} started, {len(sent)} sent, "
            f"{sum(write.acknowledged for write in self.writes)} acknowledged, "
            f"{sum(write.in_flight for write in self.writes)} in flight"
        )

    def _run(self, number: int) -> None:
        for index in range(self.per_writer):
            with self.changed:
                if self.stopping.is_set():
                    return
                write = Write(f"{self.prefix}-{number}-{index}", price=number + index / 100)
                self.writes.append(write)
            self._send(write)

    def _send(self, write: Write) -> None:
        connection = http.client.HTTPConnection(*self.address, timeout=self.timeout)
        body = json.dumps({"name": write.name, "price": write.price})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        try:
            connection.request("POST", "/products", body=body, headers=headers)
            self._update(write, sent_at=time.monotonic())
            response = connection.getresponse()
            payload = response.read()
            self._update(write, status=response.status, body=_json(payload))
        except (OSError, http.client.HTTPException) as error:
            self._update(write, error=f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def _update(self, write: Write, **changes: Any) -> None:
        with self.changed:
            for key, value in changes.items():
                setattr(write, key, value)
            self.changed.notify_all()


def _json(payload: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(payload)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}

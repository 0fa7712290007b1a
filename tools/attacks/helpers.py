"""What the attack scripts share: an HTTP client bound to a loopback address, a deadline, the CLI.

Standard library only, so a script runs with any Python that can reach the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

#: Seconds one request may take before the script counts it as failed.
REQUEST_TIMEOUT_SECONDS = 10.0
#: How often a 503 (no hash slot free) is sent again after its Retry-After.
BUSY_RETRIES = 30


class Deadline:
    """A script's own time bound: `expired` tells when to stop sending."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


class Client:
    """HTTP/1.1 to base_url (127.0.0.1 only), its socket bound to the loopback address `source`."""

    def __init__(self, base_url: str, source: str = "127.0.0.1") -> None:
        url = urllib.parse.urlsplit(base_url)
        if url.hostname != "127.0.0.1" or not source.startswith("127."):
            raise SystemExit(
                f"attacks run against 127.0.0.1 from 127.x.y.z only, not {base_url} from {source}"
            )
        self.port = int(url.port or 80)
        self.source = source
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, retry_busy: bool = True
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        """Send one request (again after Retry-After while it is 503); (status, JSON body, headers).

        Cookies the server sets are kept and sent back, as a browser would.
        """
        for _ in range(BUSY_RETRIES if retry_busy else 1):
            status, data, headers = self._once(method, path, body)
            if status != 503 or not retry_busy:
                break
            time.sleep(float(headers.get("Retry-After", "1")))  # as the server asks
        return status, data, headers

    def _once(
        self, method: str, path: str, body: Mapping[str, Any] | None
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS, source_address=(self.source, 0)
        )
        try:
            headers = {"Content-Type": "application/json"}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            raw = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = {"raw": raw[:200].decode(errors="replace")}
            return response.status, data, dict(response.headers)
        finally:
            conn.close()

    def sign_up(self, username: str, password: str) -> int:
        return self.request("POST", "/users", {"username": username, "password": password})[0]

    def log_in(self, username: str, password: str) -> int:
        return self.request("POST", "/auth/token", {"username": username, "password": password})[0]


def cli(main: Callable[[str], dict[str, object]]) -> int:
    """`python attack_x.py --base-url URL`: print the figures as one JSON line; 0 if passed."""
    parser = argparse.ArgumentParser(description=(main.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--base-url", required=True, help="http://127.0.0.1:PORT of a user-service")
    args = parser.parse_args()
    figures = main(args.base_url)
    print(json.dumps(figures), flush=True)  # noqa: T201 - the script's output
    return 0 if figures.get("passed") else 1

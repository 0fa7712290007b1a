"""The full flow for locust (run by tools/load/flow.py, never imported by pytest).

Each simulated user logs in (POST /auth/token on user-service), then loops:
validate-user, create a product, read it back. A token is reused for at most
LOAD_TOKEN_REUSE iterations before the user logs in again (a real client keeps
its token; a login per call would measure password hashing, not the services);
users start 4 per second and their re-logins are staggered, as independent
clients' are.
Every user stops after LOAD_ITERATIONS iterations, and the run ends when all
have: bounded in count here, in time by locust's --run-time.

Settings come from the environment (LOAD_*), results go to LOAD_RESULTS_FILE.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from typing import Any

import gevent  # type: ignore[import-untyped]  # no stubs; locust's own dependency
from locust import FastHttpUser, events, task
from locust.exception import StopUser

USER_SERVICE_URL = os.environ["LOAD_USER_SERVICE_URL"]
USERS = int(os.environ["LOAD_USERS"])
ITERATIONS = int(os.environ["LOAD_ITERATIONS"])
TOKEN_REUSE = int(os.environ["LOAD_TOKEN_REUSE"])
CREDENTIALS: list[dict[str, str]] = json.loads(os.environ["LOAD_CREDENTIALS"])
RESULTS_FILE = os.environ["LOAD_RESULTS_FILE"]
# A login answered 503 (no hash slot free) is sent again after Retry-After, this many times:
# enough for a machine that another test run keeps busy (seen: 6 refusals in a row).
# Each wait is what user-service asks for (about a second), so a login gives up within ~30 s.
BUSY_RETRIES = 30

_next_credentials = itertools.count()
created: list[dict[str, Any]] = []
# The planned users (numbers 0 to USERS - 1) that finished, each counted once:
# locust may start users again after some stop (keeping the user count while it
# is still spawning), and those extras neither run the flow nor count.
finished: set[int] = set()


class Shopper(FastHttpUser):
    """One client of the stack, running the flow as fast as it is answered."""

    # Closed loop: the next request leaves as soon as the last one is answered.
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        number = next(_next_credentials)
        if number >= USERS:
            raise StopUser()  # a restart beyond the planned users: the plan is already running
        self.user_id = number
        self.credentials = CREDENTIALS[number % len(CREDENTIALS)]
        self.token = ""
        # Independent clients log in at different moments: the users' second logins
        # are spread over the run instead of all landing at once (32 password
        # hashes at once would measure a burst no real client population makes).
        self.first_token_uses = number % TOKEN_REUSE
        self.token_uses = 0
        self.iterations = 0

    def wait_time(self) -> float:
        return 0.0

    def log_in(self) -> None:
        for attempt in range(BUSY_RETRIES + 1):
            with self.client.post(
                f"{USER_SERVICE_URL}/auth/token",
                json=self.credentials,
                name="POST /auth/token",
                catch_response=True,
            ) as response:
                busy = response.status_code == 503 and "Retry-After" in (response.headers or {})
                if busy and attempt < BUSY_RETRIES:
                    # Every hash slot was taken (user-service turns the rest away at
                    # once): a client waits as told and tries again.
                    response.success()
                    retry_after = float(response.headers["Retry-After"])
                elif response.status_code != 200:
                    response.failure(f"login: HTTP {response.status_code} (attempt {attempt + 1})")
                    return
                else:
                    self.token = response.json()["access_token"]
                    self.token_uses = 0
                    return
            gevent.sleep(retry_after)  # the wait user-service asked for, not synchronisation

    @task
    def flow(self) -> None:
        if not self.token:
            self.log_in()
            self.token_uses = self.first_token_uses  # the first token lasts 1 to TOKEN_REUSE iterations
        elif self.token_uses >= TOKEN_REUSE:
            self.log_in()
        self.token_uses += 1
        auth = {"Authorization": f"Bearer {self.token}"}
        with self.client.get(
            "/products/validate-user", headers=auth, name="GET /products/validate-user", catch_response=True
        ) as response:
            if (
                response.status_code != 200
                or response.json()["user"]["username"] != self.credentials["username"]
            ):
                response.failure(f"validate-user: HTTP {response.status_code}")
        body = {"name": f"flow-{secrets.token_hex(4)}", "price": round(self.iterations * 1.25, 2)}
        with self.client.post(
            "/products", json=body, headers=auth, name="POST /products", catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"create: HTTP {response.status_code}")
                self._count_iteration()
                return
            product = response.json()
        created.append(product)
        with self.client.get(
            f"/products/{product['id']}", name="GET /products/{id}", catch_response=True
        ) as response:
            if response.status_code != 200 or response.json() != product:
                response.failure(f"read back: HTTP {response.status_code}")
        self._count_iteration()

    def _count_iteration(self) -> None:
        self.iterations += 1
        if self.iterations >= ITERATIONS:
            finished.add(self.user_id)
            if len(finished) >= USERS:  # the last one out ends the run
                gevent.spawn_later(0.1, self.environment.runner.quit)
            raise StopUser()


def save_results(environment: Any, **_: Any) -> None:
    """Final figures per request name, taken when every user has stopped (the CSV may lag)."""
    paths = []
    for entry in environment.stats.entries.values():
        seconds = max(entry.last_request_timestamp - entry.start_time, 1e-9) if entry.num_requests else 0.0
        paths.append(
            {
                "label": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "requests_per_second": entry.num_requests / seconds if seconds else 0.0,
                "latency_ms": {
                    "p50": entry.get_response_time_percentile(0.50),
                    "p95": entry.get_response_time_percentile(0.95),
                    "p99": entry.get_response_time_percentile(0.99),
                    "max": entry.max_response_time,
                    "mean": entry.avg_response_time,
                },
            }
        )
    failures = [
        {"name": error.name, "error": str(error.error), "occurrences": error.occurrences}
        for error in environment.stats.errors.values()
    ]
    with open(RESULTS_FILE, "w") as out:
        json.dump(
            {"created": created, "finished_users": len(finished), "paths": paths, "failures": failures},
            out,
        )


events.test_stop.add_listener(save_results)  # type: ignore[no-untyped-call]

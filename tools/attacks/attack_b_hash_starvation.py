"""Attack (b), issue 24 item 2: one address starves password hashing for everyone else.

8 keep-alive connections from 127.0.0.1 send hashing requests back to back: a right
password for the attacker's own account (no throttle stops those) and a wrong one for a
fresh name (the slowest answer). Meanwhile a victim at 127.0.0.2 (a second loopback
address, bound as the client socket's source, so the service sees another client
without trusting any header) logs in 20 times and signs up 5 times, once each, without
retrying. Passed: all 25 succeed. Before the fix all 20 logins and 5 sign-ups got 503.

Bounded: the attackers stop when the victim is done or after MAX_SECONDS; every request
has a timeout. Sends to 127.0.0.1 and from 127.0.0.1/127.0.0.2 only.

    python attack_b_hash_starvation.py --base-url http://127.0.0.1:PORT
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import helpers

ATTACKER_ADDRESS, VICTIM_ADDRESS = "127.0.0.1", "127.0.0.2"
CONNECTIONS = 8
VICTIM_LOGINS, VICTIM_SIGNUPS = 20, 5
#: The whole run stops by then, whatever happens.
MAX_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 10.0
#: Attack requests sent before the victim starts: the attack is under way.
WARM_UP_REQUESTS = 2 * CONNECTIONS


def _connection(base_url: str, source: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise SystemExit(f"attacks target http://127.0.0.1:PORT only, not {base_url!r}")
    return http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_SECONDS, source_address=(source, 0)
    )


def _post(conn: http.client.HTTPConnection, path: str, username: str, password: str) -> int:
    """POST the credentials; the status, or 0 when the connection failed (then it reconnects)."""
    body = json.dumps({"username": username, "password": password})
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        conn.close()
        return 0


def main(base_url: str) -> dict[str, Any]:
    """Run the attack once; the victim's and the attacker's status counts, and `passed`."""
    run = secrets.token_hex(4)
    attacker_name, attacker_password = f"starver-{run}", "starver-password"
    victim_name, victim_password = f"victim-{run}", "victim-password"
    setup_attacker = _connection(base_url, ATTACKER_ADDRESS)
    setup_victim = _connection(base_url, VICTIM_ADDRESS)
    assert _post(setup_attacker, "/users", attacker_name, attacker_password) == 201, "attacker sign-up failed"
    assert _post(setup_victim, "/users", victim_name, victim_password) == 201, "victim sign-up failed"
    setup_attacker.close()
    setup_victim.close()

    stop = threading.Event()
    attack: Counter[int] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + MAX_SECONDS

    def starve() -> None:
        conn = _connection(base_url, ATTACKER_ADDRESS)
        while not stop.is_set() and time.monotonic() < deadline:
            for username, password in (
                (attacker_name, attacker_password),
                (f"nobody-{secrets.token_hex(6)}", "wrong-password"),
            ):
                status = _post(conn, "/auth/token", username, password)
                with lock:
                    attack[status] += 1
        conn.close()

    attackers = [threading.Thread(target=starve, daemon=True) for _ in range(CONNECTIONS)]
    for thread in attackers:
        thread.start()
    while sum(attack.values()) < WARM_UP_REQUESTS and time.monotonic() < deadline:
        time.sleep(0.05)  # poll until the attack is under way, within MAX_SECONDS
    logins: Counter[int] = Counter()
    signups: Counter[int] = Counter()
    victim = _connection(base_url, VICTIM_ADDRESS)
    started = time.monotonic()
    for _ in range(VICTIM_LOGINS):
        logins[_post(victim, "/auth/token", victim_name, victim_password)] += 1
    for number in range(VICTIM_SIGNUPS):
        signups[_post(victim, "/users", f"newcomer-{run}-{number}", "newcomer-password")] += 1
    victim_seconds = time.monotonic() - started
    victim.close()
    stop.set()
    for thread in attackers:
        thread.join(REQUEST_TIMEOUT_SECONDS * 2)
    return {
        "attack": "b: hash starvation from one address",
        "connections": CONNECTIONS,
        "victim_logins": {str(status): count for status, count in sorted(logins.items())},
        "victim_signups": {str(status): count for status, count in sorted(signups.items())},
        "victim_seconds": round(victim_seconds, 2),
        "attacker_requests": {str(status): count for status, count in sorted(attack.items())},
        "passed": logins[200] == VICTIM_LOGINS and signups[201] == VICTIM_SIGNUPS,
    }


if __name__ == "__main__":
    raise SystemExit(helpers.cli(main))

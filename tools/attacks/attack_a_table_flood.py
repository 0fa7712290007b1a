"""(a) After a table flood from one address, a second address's users still log in (issue 24, 1).

One address (127.0.0.2) sends failed logins for FLOOD_NAMES names that don't exist
(more than the 10,000 counters the throttle table held), a second (127.0.0.3) sends
10 more, then users who signed up before the flood, and one who signs up after it,
log in from a third (127.0.0.4) with their right passwords: each must get 200.
"""

from __future__ import annotations

import collections
import os
import threading
import time

import helpers

SERVER_ENV: dict[str, str] = {}
#: 50 more than main's 10,000-row table held. ATTACK_A_FLOOD_NAMES=1050 scales the run for
#: a server whose table is scaled alike (on a loaded machine the full flood takes an hour).
FLOOD_NAMES = int(os.environ.get("ATTACK_A_FLOOD_NAMES", "10050"))
FINISHERS = 10
FLOOD_THREADS = 12  # twice the default server's hashing places (2 workers x 3): none left idle
DEADLINE_SECONDS = 25 * 60
USERS = 5
PASSWORD = "right-password-1"


def flood(base_url: str, deadline: helpers.Deadline) -> collections.Counter[int]:
    """FLOOD_NAMES failed logins from 127.0.0.2 for names that don't exist, FLOOD_THREADS at a time."""
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    names = iter(range(FLOOD_NAMES))

    def worker() -> None:
        client = helpers.Client(base_url, source="127.0.0.2")
        while not deadline.expired:
            with lock:
                number = next(names, None)
            if number is None:
                return
            status = client.log_in(f"flood-{number}", "wrong-password")
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=worker) for _ in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def main(base_url: str) -> dict[str, object]:
    """After a table flood from one address, a second address's users log in."""
    deadline = helpers.Deadline(DEADLINE_SECONDS)
    users = helpers.Client(base_url, source="127.0.0.4")
    signed_up = sum(users.sign_up(f"user-{number}", PASSWORD) == 201 for number in range(USERS))
    started = time.monotonic()
    statuses = flood(base_url, deadline)
    flood_seconds = time.monotonic() - started
    finisher = helpers.Client(base_url, source="127.0.0.3")
    finished = collections.Counter(finisher.log_in(f"finish-{n}", "wrong-password") for n in range(FINISHERS))
    logins = collections.Counter(users.log_in(f"user-{number}", PASSWORD) for number in range(USERS))
    newcomer = users.sign_up("newcomer", PASSWORD)
    newcomer_login = users.log_in("newcomer", PASSWORD)
    return {
        "passed": logins[200] == USERS == signed_up and newcomer_login == 200,
        "flood_names": FLOOD_NAMES,
        "flood_sent": sum(statuses.values()),
        "flood_statuses": dict(statuses),
        "flood_per_s": round(sum(statuses.values()) / flood_seconds, 1),
        "finisher_statuses": dict(finished),
        "users_ok": f"{logins[200]}/{USERS}",
        "user_statuses": dict(logins),
        "newcomer_signup_login": f"{newcomer}/{newcomer_login}",
    }


if __name__ == "__main__":
    raise SystemExit(helpers.cli(main))

"""(d) One typo behind a shared address with 1,000 junk failures still lets the right password in.

Everyone here is one address, 127.0.0.5 (a NAT, a proxy, Docker's port publishing).
Phase 1: 1,000 junk failed logins for names that don't exist; then a new user (never
logged in) types a wrong password once, then the right one. Phase 2: a user who
logged in from this address before the junk (a browser keeps the service's cookies;
so does this client), then 1,000 junk failures against 100 real accounts (10 each),
then that user's typo and the right password. Passed when both right passwords get
200. Also shown: the same typo-then-right from a user with no history after phase 2,
which the per-client bound on password spraying may refuse.
"""

from __future__ import annotations

import collections
import threading

import helpers

SERVER_ENV: dict[str, str] = {}
JUNK = 1_000
REAL_ACCOUNTS = 100
THREADS = 6
DEADLINE_SECONDS = 10 * 60
PASSWORD = "right-password-1"


def junk(base_url: str, names: list[str], deadline: helpers.Deadline) -> collections.Counter[int]:
    """One failed login per entry of names from 127.0.0.5, THREADS at a time."""
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    todo = iter(names)

    def worker() -> None:
        client = helpers.Client(base_url, source="127.0.0.5")
        while not deadline.expired:
            with lock:
                name = next(todo, None)
            if name is None:
                return
            status = client.log_in(name, "junk-password")
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def typo_then_right(client: helpers.Client, username: str) -> tuple[int, int]:
    return client.log_in(username, "right-password-2"), client.log_in(username, PASSWORD)


def main(base_url: str) -> dict[str, object]:
    """One typo behind a shared address with 1,000 junk failures still lets the right password in."""
    deadline = helpers.Deadline(DEADLINE_SECONDS)
    elsewhere = helpers.Client(base_url, source="127.0.0.6")  # sign-ups from another address
    for name in ("newuser", "regular", "latecomer", *(f"real-{n}" for n in range(REAL_ACCOUNTS))):
        elsewhere.sign_up(name, PASSWORD)
    regular = helpers.Client(base_url, source="127.0.0.5")
    regular_first = regular.log_in("regular", PASSWORD)

    phase1 = junk(base_url, [f"junk-{n}" for n in range(JUNK)], deadline)
    newuser = typo_then_right(helpers.Client(base_url, source="127.0.0.5"), "newuser")

    per_account = JUNK // REAL_ACCOUNTS
    phase2 = junk(
        base_url, [f"real-{n % REAL_ACCOUNTS}" for n in range(REAL_ACCOUNTS * per_account)], deadline
    )
    regular_after = typo_then_right(regular, "regular")
    latecomer = typo_then_right(helpers.Client(base_url, source="127.0.0.5"), "latecomer")
    return {
        "passed": regular_first == 200 and newuser[1] == 200 and regular_after[1] == 200,
        "junk_unknown_statuses": dict(phase1),
        "new_user_typo_right": f"{newuser[0]}/{newuser[1]}",
        "junk_real_statuses": dict(phase2),
        "returning_user_typo_right": f"{regular_after[0]}/{regular_after[1]}",
        "no_history_user_typo_right": f"{latecomer[0]}/{latecomer[1]}",
    }


if __name__ == "__main__":
    raise SystemExit(helpers.cli(main))

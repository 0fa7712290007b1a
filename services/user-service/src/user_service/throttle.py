"""Login and sign-up throttling per (account, client), per client and per device, shared by all workers.

Counters live in the users database (table login_failures), so every worker and
every restart sees the same state. Each counter counts in a fixed window that
starts at its first count and ends LOGIN_FAILURE_WINDOW_SECONDS later; then it
starts again from zero.

An attempt is checked and counted in one transaction (BEGIN IMMEDIATE) before any
password is hashed, so concurrent guesses cannot all pass the check; a login that
succeeds takes its count back. Following OWASP ASVS V2.2 (throttle per account
*and* client, never lock an account for everyone), a login is counted in:

- `pair:<account>@<client>`: LOGIN_FAILURES_PER_ACCOUNT failures of one client on
  one account refuse that client for that account only; other clients, and
  devices that logged in before, are not affected;
- `client:<client>`: LOGIN_FAILURES_PER_CLIENT failures on real accounts refuse the
  client for every account (the bound on password spraying, one guess per account);
  a login for a name that doesn't exist is refused too then, so a refusal tells
  nothing about a name;
- `device:<account>` instead of both, when the caller shows a device cookie that
  this account's successful login set (device.py): a user who has logged in before
  keeps passing with the right password whatever the address is blamed for, and
  the cookie itself allows LOGIN_FAILURES_PER_ACCOUNT failures per window in all.

A login for a name that doesn't exist stores nothing about that name: it counts in
the client's one `unknown:<client>` row (never refused on; it makes such a login
write as much as any other, so its timing tells nothing). Junk names cost no row
per name, and never count against the client's spraying bound.

The table is bounded: counters whose window has ended are deleted, and when
MAX_KEYS live counters remain, a new one takes the place of the weakest (fewest
failures, oldest first). Locks and the client counters that bound spraying have
the most failures, so they are the last to go; no counter is shared by clients
or accounts, so no flood can lock anyone but its sender out.

Sign-ups count in `signup:<client>` (SIGNUPS_PER_CLIENT) and, for names already
taken, `conflict:<client>` (SIGNUP_CONFLICTS_PER_CLIENT, checked on every sign-up):
that bounds how many names one client can test by signing up.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from flask import current_app
from servicekit import sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS login_failures_window ON login_failures (window_start);
CREATE INDEX IF NOT EXISTS login_failures_weakest ON login_failures (failures, window_start);
"""
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Key:
    """One counter: its name in the table, the counts it allows per window, how an attempt uses it."""

    name: str
    #: Counts that refuse the next attempt; None: never refuses.
    limit: int | None
    #: False: only checked (e.g. the client's bound, on a login for a name that doesn't exist).
    counted: bool = True
    #: True: a success deletes it (the account's own counter) instead of taking one count back.
    personal: bool = False


class Refused(Exception):
    """The attempt is over a limit; retry_after is the seconds until that limit lifts."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"refused for {retry_after} seconds")
        self.retry_after = retry_after


def login_keys(user_id: int | None, client: str, *, device: bool) -> tuple[Key, ...]:
    """The counters a login from `client` is checked against and counted in.

    user_id: the account the name given belongs to, None if none; device: the caller
    showed a valid device cookie for that account.
    """
    config = current_app.config
    per_account = int(config["LOGIN_FAILURES_PER_ACCOUNT"])
    per_client = int(config["LOGIN_FAILURES_PER_CLIENT"])
    if user_id is None:
        return (Key(f"client:{client}", per_client, counted=False), Key(f"unknown:{client}", None))
    if device:
        return (Key(f"device:{user_id}", per_account, personal=True),)
    return (
        Key(f"pair:{user_id}@{client}", per_account, personal=True),
        Key(f"client:{client}", per_client),
    )


def signup_keys(client: str) -> tuple[Key, Key]:
    """The client's sign-up counter and its taken-name counter (checked, counted apart)."""
    config = current_app.config
    return (
        Key(f"signup:{client}", int(config["SIGNUPS_PER_CLIENT"])),
        Key(f"conflict:{client}", int(config["SIGNUP_CONFLICTS_PER_CLIENT"]), counted=False),
    )


def _window() -> float:
    return float(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


@dataclass(frozen=True)
class Count:
    """A counter as this attempt sees it: its key, its live count and window start."""

    key: Key
    count: int
    start: float


#: The counters one attempt was counted in, so a success can take the count back.
Attempt = tuple[Key, ...]


@contextmanager
def _immediate() -> Iterator[sqlite3.Connection]:
    db = sqlite.get_db()
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _read(db: sqlite3.Connection, key: Key, now: float, window: float) -> Count:
    """The key's live count: 0 from now if it has no row, or its row's window has ended."""
    row = db.execute(
        "SELECT failures, window_start FROM login_failures WHERE key = ?", (key.name,)
    ).fetchone()
    if row is None or now - row["window_start"] >= window:
        return Count(key, 0, now)
    return Count(key, int(row["failures"]), float(row["window_start"]))


def _retry_after(count: Count, now: float, window: float) -> int:
    return max(1, math.ceil(count.start + window - now))


def _make_room(db: sqlite3.Connection, now: float, window: float) -> None:
    """Delete ended counters; while MAX_KEYS live ones remain, the weakest gives up its place."""
    db.execute("DELETE FROM login_failures WHERE window_start <= ?", (now - window,))
    (live,) = db.execute("SELECT count(*) FROM login_failures").fetchone()
    if live >= MAX_KEYS:
        db.execute(
            "DELETE FROM login_failures WHERE key IN "
            "(SELECT key FROM login_failures ORDER BY failures, window_start LIMIT ?)",
            (live - MAX_KEYS + 1,),
        )


def _add(db: sqlite3.Connection, counts: Sequence[Count], now: float, window: float) -> Attempt:
    counted = [count for count in counts if count.key.counted]
    for count in counted:
        if count.count == 0:  # a new row (or a window started afresh)
            _make_room(db, now, window)
        db.execute(
            "INSERT OR REPLACE INTO login_failures (key, failures, window_start) VALUES (?, ?, ?)",
            (count.key.name, count.count + 1, count.start),
        )
    return tuple(count.key for count in counted)


def begin(keys: Sequence[Key], now: float | None = None) -> Attempt:
    """Check an attempt against every key's limit and count it, before any hashing; raise Refused."""
    now = time.time() if now is None else now
    window = _window()
    with _immediate() as db:
        counts = [_read(db, key, now, window) for key in keys]
        for count in counts:
            if count.key.limit is not None and count.count >= count.key.limit:
                raise Refused(_retry_after(count, now, window))
        return _add(db, counts, now, window)


def count(key: Key, now: float | None = None) -> None:
    """Count one more against key, even one an attempt only checks (a sign-up found its name taken)."""
    now = time.time() if now is None else now
    window = _window()
    with _immediate() as db:
        _add(db, [_read(db, replace(key, counted=True), now, window)], now, window)


def succeeded(attempt: Attempt) -> None:
    """Take back a successful login's counts: the account's own counter is cleared."""
    with _immediate() as db:
        for key in attempt:
            if key.personal:
                db.execute("DELETE FROM login_failures WHERE key = ?", (key.name,))
            else:
                _subtract(db, key.name)


def take_back(attempt: Attempt) -> None:
    """Undo an attempt's counts (one that was never judged, e.g. no hash slot came free)."""
    with _immediate() as db:
        for key in attempt:
            _subtract(db, key.name)


def _subtract(db: sqlite3.Connection, name: str) -> None:
    db.execute("UPDATE login_failures SET failures = failures - 1 WHERE key = ?", (name,))
    db.execute("DELETE FROM login_failures WHERE key = ? AND failures <= 0", (name,))

"""Login and sign-up throttling per account and per client, shared by all gunicorn workers.

Counters live in the users database (table login_failures), so every worker and
every restart sees the same state. Each counter counts in a fixed window that
starts at its first count and ends LOGIN_FAILURE_WINDOW_SECONDS later; then it
starts again from zero.

An attempt is checked and counted in one transaction (BEGIN IMMEDIATE) before any
password is hashed, so concurrent guesses cannot all pass the check; a login that
succeeds takes its count back (the account's counter is cleared). Rules:

- an account at its limit refuses every login, even with the right password;
- a client at its limit refuses logins for accounts that have counts of their
  own, never a first, correct login to an account nobody has failed on: one
  caller behind a shared NAT address cannot lock everyone else out;
- a client at its sign-up limit is refused further sign-ups.

The table is bounded without ever forgetting a live counter: only counters whose
window has ended are deleted. When MAX_KEYS live counters exist, a new key is
counted under its kind's shared overflow counter (refusing, at that counter's
limit, every account or client without a counter of its own) until windows end.

The client is the TCP peer address (IPv6 addresses by their /64, which one host
usually holds whole): no X-Forwarded-For is trusted.
"""

from __future__ import annotations

import ipaddress
import math
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app
from servicekit import sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS login_failures_window ON login_failures (window_start);
"""
MAX_KEYS = 10_000
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Key:
    """One counter: its name in the table and the counts it allows per window."""

    name: str
    limit: int

    @property
    def overflow(self) -> str:
        """The shared counter this key's kind falls back to when the table is full."""
        return "overflow:" + self.name.partition(":")[0]


class Refused(Exception):
    """The attempt is over a limit; retry_after is the seconds until that limit lifts."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"refused for {retry_after} seconds")
        self.retry_after = retry_after


def client_id(address: str | None) -> str:
    """The client a TCP peer address stands for: the address, or an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def keys_for(username: str, address: str | None) -> tuple[Key, Key]:
    """The account's login counter and the client's, with their configured limits."""
    config = current_app.config
    return (
        Key(f"account:{username}", int(config["LOGIN_FAILURES_PER_ACCOUNT"])),
        Key(f"client:{client_id(address)}", int(config["LOGIN_FAILURES_PER_CLIENT"])),
    )


def signup_key(address: str | None) -> Key:
    """The client's sign-up counter, with its configured limit."""
    return Key(f"signup:{client_id(address)}", int(current_app.config["SIGNUPS_PER_CLIENT"]))


def _window() -> float:
    return float(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


@dataclass(frozen=True)
class Count:
    """A counter as this attempt sees it: the row it lives in, its live count and window start."""

    name: str
    count: int
    start: float


@dataclass(frozen=True)
class Attempt:
    """The counters one attempt was counted in, so a success can take the count back."""

    names: tuple[str, ...]


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


def _row(db: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT failures, window_start FROM login_failures WHERE key = ?", (name,)
    ).fetchone()
    return row


def _full(db: sqlite3.Connection, now: float, window: float) -> bool:
    """Delete the counters whose window has ended; tell whether MAX_KEYS live ones remain."""
    db.execute("DELETE FROM login_failures WHERE window_start <= ?", (now - window,))
    (live,) = db.execute("SELECT count(*) FROM login_failures").fetchone()
    return bool(live >= MAX_KEYS)


def _read(db: sqlite3.Connection, keys: Sequence[Key], now: float, window: float) -> list[Count]:
    """Each key's counter; a key without a row of its own is counted under its overflow
    counter while the table holds MAX_KEYS live counters."""
    counts = []
    for key in keys:
        row = _row(db, key.name)
        if row is None and _full(db, now, window):
            overflow = _row(db, key.overflow)
            counts.append(
                _live(key.overflow, overflow, now, window) if overflow else Count(key.overflow, 0, now)
            )
        elif row is None:
            counts.append(Count(key.name, 0, now))
        else:
            counts.append(_live(key.name, row, now, window))
    return counts


def _live(name: str, row: sqlite3.Row, now: float, window: float) -> Count:
    """The row's count, or a fresh window if the row's window has ended."""
    if now - row["window_start"] >= window:
        return Count(name, 0, now)
    return Count(name, int(row["failures"]), float(row["window_start"]))


def _retry_after(count: Count, now: float, window: float) -> int:
    return max(1, math.ceil(count.start + window - now))


def _add(db: sqlite3.Connection, counts: Sequence[Count]) -> Attempt:
    for count in counts:
        db.execute(
            "INSERT OR REPLACE INTO login_failures (key, failures, window_start) VALUES (?, ?, ?)",
            (count.name, count.count + 1, count.start),
        )
    return Attempt(tuple(count.name for count in counts))


def begin_login(account: Key, client: Key, now: float | None = None) -> Attempt:
    """Check a login against both limits and count it, before any hashing; raise Refused."""
    now = time.time() if now is None else now
    window = _window()
    with _immediate() as db:
        own, mine = _read(db, (account, client), now, window)
        if own.count >= account.limit:
            raise Refused(_retry_after(own, now, window))
        # The client's limit guards only accounts with counts of their own.
        if mine.count >= client.limit and own.count > 0:
            raise Refused(_retry_after(mine, now, window))
        return _add(db, (own, mine))


def succeeded(attempt: Attempt, account: Key) -> None:
    """Take back a successful login's counts: the account's counter is cleared."""
    with _immediate() as db:
        for name in attempt.names:
            if name == account.name:
                db.execute("DELETE FROM login_failures WHERE key = ?", (name,))
            else:
                _subtract(db, name)


def take_back(attempt: Attempt) -> None:
    """Undo an attempt's counts (one that was never judged, e.g. no hash slot came free)."""
    with _immediate() as db:
        for name in attempt.names:
            _subtract(db, name)


def _subtract(db: sqlite3.Connection, name: str) -> None:
    db.execute("UPDATE login_failures SET failures = failures - 1 WHERE key = ?", (name,))
    db.execute("DELETE FROM login_failures WHERE key = ? AND failures <= 0", (name,))


def begin_signup(key: Key, now: float | None = None) -> Attempt:
    """Check a sign-up against the client's limit and count it, before hashing; raise Refused."""
    now = time.time() if now is None else now
    window = _window()
    with _immediate() as db:
        (mine,) = _read(db, (key,), now, window)
        if mine.count >= key.limit:
            raise Refused(_retry_after(mine, now, window))
        return _add(db, (mine,))

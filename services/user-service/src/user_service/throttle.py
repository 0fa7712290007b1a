"""Failed-login throttling per account and per client, shared by all gunicorn workers.

Counters live in the users database (table login_failures), so every worker and
every restart sees the same state. Each key counts failures in a fixed window
that starts at its first failure; a key at its limit refuses every login (even
with the right password) until the window ends, with Retry-After saying when. A
success clears the account's counter, never the client's. The table is bounded:
expired rows go on every write, and past MAX_KEYS the oldest rows are dropped.

The client is the TCP peer address: no X-Forwarded-For is trusted. Behind Docker's
NAT every host-side caller is one client, hence a per-client limit far above any
test suite's failed logins.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Key:
    """One counter: its name in the table and the failures it allows per window."""

    name: str
    limit: int


def keys_for(username: str, client: str | None) -> tuple[Key, Key]:
    """The account's counter and the client's, with their configured limits."""
    config = current_app.config
    return (
        Key(f"account:{username}", int(config["LOGIN_FAILURES_PER_ACCOUNT"])),
        Key(f"client:{client or 'unknown'}", int(config["LOGIN_FAILURES_PER_CLIENT"])),
    )


def _window() -> float:
    return float(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


def retry_after(keys: Sequence[Key], now: float | None = None) -> int | None:
    """Seconds until the latest-ending block on these keys lifts, or None if none is blocked."""
    now = time.time() if now is None else now
    window = _window()
    limits = {key.name: key.limit for key in keys}
    marks = ",".join("?" * len(keys))
    rows = (
        sqlite.get_db()
        .execute(
            f"SELECT key, failures, window_start FROM login_failures WHERE key IN ({marks})", list(limits)
        )
        .fetchall()
    )
    waits = [
        row["window_start"] + window - now
        for row in rows
        if row["failures"] >= limits[row["key"]] and row["window_start"] + window > now
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def record_failure(keys: Sequence[Key], now: float | None = None) -> None:
    """Count one failed login against every key, then keep the table bounded."""
    now = time.time() if now is None else now
    window = _window()
    db = sqlite.get_db()
    db.execute("BEGIN IMMEDIATE")
    try:
        for key in keys:
            db.execute(
                """
                INSERT INTO login_failures (key, failures, window_start) VALUES (?, 1, ?)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN excluded.window_start - window_start >= ?
                                    THEN 1 ELSE failures + 1 END,
                    window_start = CASE WHEN excluded.window_start - window_start >= ?
                                        THEN excluded.window_start ELSE window_start END
                """,
                (key.name, now, window, window),
            )
        db.execute("DELETE FROM login_failures WHERE window_start <= ?", (now - window,))
        db.execute(
            """
            DELETE FROM login_failures WHERE key IN (
                SELECT key FROM login_failures ORDER BY window_start
                LIMIT max(0, (SELECT count(*) FROM login_failures) - ?)
            )
            """,
            (MAX_KEYS,),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def clear(key: Key) -> None:
    """Forget a key's failures (the account's, after a successful login)."""
    sqlite.get_db().execute("DELETE FROM login_failures WHERE key = ?", (key.name,))

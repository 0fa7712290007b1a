"""SQLite, one connection per request: a broken file fails fast and heals by itself."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, g

# Wait this long for another writer (another gunicorn worker) instead of failing at
# once.
BUSY_TIMEOUT_SECONDS = 5.0


def connect(path: str, *, create: bool = False) -> sqlite3.Connection:
    """Open the database with our pragmas; only startup may create the file."""
    # mode=rw: if the file vanishes at runtime we fail loudly instead of serving an
    # empty DB.
    uri = Path(path).absolute().as_uri() + ("?mode=rwc" if create else "?mode=rw")
    conn = sqlite3.connect(
        uri,
        uri=True,
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,
        check_same_thread=True,
    )
    try:
        conn.row_factory = sqlite3.Row
        if create:
            _enable_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL once, at start-up; the mode persists in the file.

    Changing the journal mode needs an exclusive lock, and SQLite does not call
    the busy handler for it: when processes boot against a fresh file at the same
    moment, the losers see "database is locked" and retry until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)  # back off before the next attempt at the lock


def get_db() -> sqlite3.Connection:
    """Return this request's connection, opening it on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE_PATH"])
    return g.db  # type: ignore[no-any-return]


def close_db(_exc: BaseException | None = None) -> None:
    """Close this request's connection; nothing is cached across requests."""
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def ping(table: str) -> None:
    """Raise unless the file opens and our table is readable (used by /ready)."""
    get_db().execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchall()


def init_app(app: Flask, schema: str, setup: Callable[[sqlite3.Connection], None] | None = None) -> None:
    """Create the directory, the schema (idempotent) and run setup, then wire teardown.

    Safe with several workers booting at once: BEGIN IMMEDIATE serialises them, the
    busy timeout makes the others wait, and CREATE ... IF NOT EXISTS is idempotent.
    """
    path = Path(app.config["DATABASE_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(str(path), create=True)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if setup is not None:
                setup(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    app.teardown_appcontext(close_db)

"""SQLite connections for requests: a broken file fails fast and heals by itself.

A service chooses at init_app: a connection per request (the default), or one
per thread, kept across requests and reopened when the file changes under it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, g

# Wait this long for another writer (another gunicorn worker) instead of failing at
# once.
BUSY_TIMEOUT_SECONDS = 5.0
_PER_THREAD = "servicekit.sqlite.per_thread"  # the app.extensions key for init_app's choice


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


class _ThreadConnections(threading.local):
    """Each thread's kept connection, and what the file looked like when it was opened."""

    conn: sqlite3.Connection | None = None
    opened: tuple[str, int, int, int] | None = None


_threads = _ThreadConnections()


def _forget_connections() -> None:
    # A connection must never cross a fork: a child (a gunicorn worker forked from
    # the master) opens its own; the parent's copy is dropped, not closed.
    global _threads
    _threads = _ThreadConnections()


os.register_at_fork(after_in_child=_forget_connections)


def thread_connection(path: str) -> sqlite3.Connection:
    """Return this thread's connection to `path`, reopened when the file changed.

    One stat per request instead of an open: a file replaced, removed, moved or
    chmod-ed (the `erroring` fault) no longer matches, so the connection is
    closed and the open is retried, which fails as it would for a new
    connection (500) until the file is usable again.
    """
    local = _threads
    try:
        info = os.stat(path)
        current = (path, info.st_dev, info.st_ino, info.st_mode)
    except OSError:
        current = None
    if local.conn is not None and (current is None or current != local.opened):
        local.conn.close()
        local.conn = local.opened = None
    if local.conn is None:
        local.conn = connect(path)
        local.opened = current
    return local.conn


def get_db() -> sqlite3.Connection:
    """Return this request's connection, opening (or taking this thread's) on first use."""
    if "db" not in g:
        path = current_app.config["DATABASE_PATH"]
        g.db = thread_connection(path) if current_app.extensions.get(_PER_THREAD) else connect(path)
    return g.db  # type: ignore[no-any-return]


def close_db(_exc: BaseException | None = None) -> None:
    """End this request's use of its connection: close it, or keep this thread's.

    A kept connection goes back with no transaction open, whatever the request did.
    """
    conn = g.pop("db", None)
    if conn is None:
        return
    kept = _threads.conn
    if conn is not kept:
        conn.close()
    elif kept is not None and kept.in_transaction:
        kept.rollback()


def ping(table: str) -> None:
    """Raise unless the file opens and our table is readable (used by /ready)."""
    get_db().execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchall()


def init_app(
    app: Flask,
    schema: str,
    setup: Callable[[sqlite3.Connection], None] | None = None,
    *,
    per_thread: bool = False,
) -> None:
    """Create the directory, the schema (idempotent) and run setup, then wire teardown.

    Safe with several workers booting at once: BEGIN IMMEDIATE serialises them, the
    busy timeout makes the others wait, and CREATE ... IF NOT EXISTS is idempotent.
    per_thread keeps one connection per thread across requests (thread_connection)
    instead of opening one per request.
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
    app.extensions[_PER_THREAD] = per_thread
    app.teardown_appcontext(close_db)

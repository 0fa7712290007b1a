"""The users table and the optional demo account created at startup."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

from flask import Flask
from servicekit import sqlite

from user_service import passwords, throttle

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


def init_app(app: Flask) -> None:
    """Create the schema and, when configured, the demo user."""
    username = app.config.get("DEMO_USERNAME")
    password = app.config.get("DEMO_PASSWORD")
    setup = None
    if username and password:
        # Hash outside the write transaction so concurrent workers hold the lock
        # briefly.
        password_hash = passwords.hash_password(password, wait=None)

        def setup(conn: sqlite3.Connection) -> None:
            # INSERT OR IGNORE keeps it idempotent and race-free across workers and
            # restarts.
            cur = conn.execute(
                "INSERT OR IGNORE INTO users (username, password_hash) VALUES (?, ?)",
                (username, password_hash),
            )
            if cur.rowcount:
                log.info("created demo user", extra={"username": username})

    elif username or password:
        log.warning("DEMO_USERNAME and DEMO_PASSWORD must both be set; no demo user created")
    sqlite.init_app(app, SCHEMA + throttle.SCHEMA, setup)


def find_by_username(username: str) -> sqlite3.Row | None:
    """Return the user row with this username, if any."""
    row: sqlite3.Row | None = (
        sqlite.get_db()
        .execute(
            "SELECT id, username, password_hash FROM users WHERE username = ?",
            (username,),
        )
        .fetchone()
    )
    return row


def password_hashes() -> Iterator[str]:
    """Every stored password hash, one row at a time (start-up reads their schemes)."""
    for (password_hash,) in sqlite.get_db().execute("SELECT password_hash FROM users"):
        yield str(password_hash)


def find_by_id(user_id: int) -> sqlite3.Row | None:
    """Return the user row with this id, if any."""
    row: sqlite3.Row | None = (
        sqlite.get_db().execute("SELECT id, username FROM users WHERE id = ?", (user_id,)).fetchone()
    )
    return row


def insert_user(username: str, password_hash: str) -> int | None:
    """Insert a user and return its id, or None when the username is taken."""
    try:
        cur = sqlite.get_db().execute(
            "INSERT INTO users (username, password_hash) VALUES (?, ?)",
            (username, password_hash),
        )
    except sqlite3.IntegrityError:
        return None
    return cur.lastrowid


def replace_password_hash(user_id: int, old_hash: str, new_hash: str) -> bool:
    """Store a new hash unless another login already replaced the old one."""
    cur = sqlite.get_db().execute(
        "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
        (new_hash, user_id, old_hash),
    )
    return cur.rowcount == 1

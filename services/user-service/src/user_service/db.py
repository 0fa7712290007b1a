"""The users table, its folded-username migration, and the optional demo account created at startup."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

from flask import Flask
from servicekit import sqlite

from user_service import passwords, throttle
from user_service.validation import fold

log = logging.getLogger(__name__)

# username is the name as signed up (shown back); username_key its folded form
# (validation.fold), unique: "Alice" and "alice" are one account.
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    username_key TEXT
);
"""
FOLDED_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (username_key)"


def fold_usernames(conn: sqlite3.Connection) -> None:
    """Give every row its folded key, once (a database made before keys existed).

    Two rows made before that fold to one name (e.g. "USER1" and "user1"): the
    older (lower id) gets the key and is the account that name logs in to,
    however it is typed; the newer keeps no key and logs in by its exact name only
    (find_by_username). Neither is deleted or renamed: no one loses an account,
    and no new sign-up can take either name.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    if "username_key" not in columns:
        conn.execute("ALTER TABLE users ADD COLUMN username_key TEXT")
    taken = {key for (key,) in conn.execute("SELECT username_key FROM users WHERE username_key IS NOT NULL")}
    rows = conn.execute("SELECT id, username FROM users WHERE username_key IS NULL ORDER BY id").fetchall()
    for user_id, username in rows:
        key = fold(username)
        if key in taken:
            log.warning(
                "username folds to an older account's; it logs in by its exact name only",
                extra={"user_id": user_id},
            )
            continue
        conn.execute("UPDATE users SET username_key = ? WHERE id = ?", (key, user_id))
        taken.add(key)
    conn.execute(FOLDED_INDEX)


def init_app(app: Flask) -> None:
    """Create the schema, fold usernames and, when configured, create the demo user."""
    username = app.config.get("DEMO_USERNAME")
    password = app.config.get("DEMO_PASSWORD")
    password_hash = None
    if username and password:
        # Hash outside the write transaction so concurrent workers hold the lock
        # briefly.
        password_hash = passwords.hash_password(password, wait=None)
    elif username or password:
        log.warning("DEMO_USERNAME and DEMO_PASSWORD must both be set; no demo user created")

    def setup(conn: sqlite3.Connection) -> None:
        fold_usernames(conn)
        if username and password_hash:
            # INSERT OR IGNORE keeps it idempotent and race-free across workers and
            # restarts.
            cur = conn.execute(
                "INSERT OR IGNORE INTO users (username, username_key, password_hash) VALUES (?, ?, ?)",
                (username, fold(username), password_hash),
            )
            if cur.rowcount:
                log.info("created demo user", extra={"username": username})

    sqlite.init_app(app, SCHEMA + throttle.SCHEMA, setup)


def find_by_username(username: str) -> sqlite3.Row | None:
    """Return the account this name logs in to: its folded key's, or a keyless row's exact name."""
    row: sqlite3.Row | None = (
        sqlite.get_db()
        .execute(
            "SELECT id, username, password_hash FROM users "
            "WHERE username_key = ? OR (username_key IS NULL AND username = ?) "
            "ORDER BY username_key IS NULL DESC LIMIT 1",
            (fold(username), username),
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
    """Insert a user and return its id, or None when the name (or its folded form) is taken."""
    try:
        cur = sqlite.get_db().execute(
            "INSERT INTO users (username, username_key, password_hash) VALUES (?, ?, ?)",
            (username, fold(username), password_hash),
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

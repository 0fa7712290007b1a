"""The products table, its first-start seed data, and the queries the views use."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask
from servicekit import sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    price REAL NOT NULL CHECK (price >= 0),
    created_by TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""

SEED = (("Laptop", 999.99), ("Mouse", 25.50), ("Keyboard", 75.00))


def _seed(conn: sqlite3.Connection) -> None:
    # Runs inside BEGIN IMMEDIATE, so only one booting worker can see the table empty.
    if conn.execute("SELECT 1 FROM products LIMIT 1").fetchone() is None:
        conn.executemany("INSERT INTO products (name, price) VALUES (?, ?)", SEED)


def init_app(app: Flask) -> None:
    """Create the schema and seed it on first start; one connection per thread after that."""
    sqlite.init_app(app, SCHEMA, _seed, per_thread=True)


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "price": row["price"]}


def list_products(limit: int, after: int = 0) -> tuple[list[dict[str, Any]], bool]:
    """Return up to `limit` products with ids above `after`, by id, and whether more follow.

    One row more than asked for tells whether a next page exists, without a count.
    """
    rows = sqlite.get_db().execute(
        "SELECT id, name, price FROM products WHERE id > ? ORDER BY id LIMIT ?", (after, limit + 1)
    )
    products = [_summary(row) for row in rows]
    return products[:limit], len(products) > limit


def get_product(product_id: int) -> dict[str, Any] | None:
    """Return one product with its creator, or None."""
    row = (
        sqlite.get_db()
        .execute(
            "SELECT id, name, price, created_by FROM products WHERE id = ?",
            (product_id,),
        )
        .fetchone()
    )
    return None if row is None else {**_summary(row), "created_by": row["created_by"]}


def insert_product(name: str, price: float, created_by: str) -> dict[str, Any]:
    """Store a product (price already in cents) and return it as the API shows it."""
    cur = sqlite.get_db().execute(
        "INSERT INTO products (name, price, created_by) VALUES (?, ?, ?)",
        (name, price, created_by),
    )
    return {"id": cur.lastrowid, "name": name, "price": price, "created_by": created_by}

"""servicekit.sqlite: a connection per request, or one per thread kept across requests."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from flask import Flask
from servicekit import sqlite

SCHEMA = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, writer TEXT NOT NULL);"
# Like a gunicorn deployment: workers (processes) x threads, all writing at once.
PROCESSES, THREADS, WRITES = 2, 4, 50


def make_app(path: Path, *, per_thread: bool) -> Flask:
    app = Flask(__name__)
    app.config["DATABASE_PATH"] = str(path)
    sqlite.init_app(app, SCHEMA, per_thread=per_thread)
    return app


def request_connection(app: Flask) -> sqlite3.Connection:
    """The connection one request gets (the request ends before this returns)."""
    with app.app_context():
        return sqlite.get_db()


@pytest.fixture(autouse=True)
def no_kept_connection() -> None:
    """Function scope: start each test with no connection kept on this thread."""
    sqlite._forget_connections()


@pytest.mark.parametrize(("per_thread", "same"), [(True, True), (False, False)])
def test_requests_on_one_thread_share_a_connection_only_when_per_thread(
    tmp_path: Path, per_thread: bool, same: bool
) -> None:
    app = make_app(tmp_path / "db.sqlite", per_thread=per_thread)
    assert (request_connection(app) is request_connection(app)) is same


def test_each_thread_has_its_own_connection(tmp_path: Path) -> None:
    app = make_app(tmp_path / "db.sqlite", per_thread=True)
    seen: list[sqlite3.Connection] = []
    worker = threading.Thread(target=lambda: seen.extend([request_connection(app), request_connection(app)]))
    worker.start()
    worker.join()
    assert seen[0] is seen[1]
    assert seen[0] is not request_connection(app)


def test_a_kept_connection_goes_back_with_no_transaction_open(tmp_path: Path) -> None:
    app = make_app(tmp_path / "db.sqlite", per_thread=True)
    with app.app_context():
        conn = sqlite.get_db()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO items (writer) VALUES ('abandoned')")
    assert not conn.in_transaction
    with app.app_context():
        assert sqlite.get_db().execute("SELECT count(*) FROM items").fetchone()[0] == 0


@pytest.mark.parametrize("change", ["replaced", "chmod"])
def test_a_file_changed_under_a_kept_connection_is_opened_again(tmp_path: Path, change: str) -> None:
    path = tmp_path / "db.sqlite"
    app = make_app(path, per_thread=True)
    first = request_connection(app)
    if change == "replaced":  # a new file at the same path: the kept connection would read the old one
        other = tmp_path / "other.sqlite"
        make_app(other, per_thread=False)
        with sqlite3.connect(other) as conn:
            conn.execute("INSERT INTO items (writer) VALUES ('new file')")
        conn.close()
        other.replace(path)
    else:  # the `erroring` fault: for a non-root service, the open then fails (a 500)
        path.chmod(0o600)
    with app.app_context():
        again = sqlite.get_db()
        rows = again.execute("SELECT writer FROM items").fetchall()
    assert again is not first
    assert [row["writer"] for row in rows] == (["new file"] if change == "replaced" else [])


def test_a_missing_file_fails_each_request_then_heals(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    app = make_app(path, per_thread=True)
    request_connection(app)
    path.rename(tmp_path / "away.sqlite")
    with pytest.raises(sqlite3.OperationalError), app.app_context():
        sqlite.get_db()
    (tmp_path / "away.sqlite").rename(path)
    with app.app_context():
        assert sqlite.get_db().execute("SELECT count(*) FROM items").fetchone()[0] == 0


def write_from_threads(app: Flask, name: str) -> None:
    """THREADS threads, each making WRITES requests that insert a row; raises on any failure."""
    errors: list[sqlite3.Error] = []

    def write(thread: int) -> None:
        try:
            for _ in range(WRITES):
                with app.app_context():
                    sqlite.get_db().execute("INSERT INTO items (writer) VALUES (?)", (f"{name}-{thread}",))
        except sqlite3.Error as error:  # "database is locked", say: raised below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def child(app: Flask, name: str) -> None:
    """A forked worker: nothing kept from the parent, then its threads write."""
    if sqlite._threads.conn is not None:
        os._exit(3)  # the parent's connection crossed the fork
    try:
        write_from_threads(app, name)
    except sqlite3.Error:
        os._exit(4)
    os._exit(0)


def test_forked_workers_and_their_threads_write_at_once_and_lose_nothing(tmp_path: Path) -> None:
    # As gunicorn does with preload_app: the app (and here a kept connection) is
    # made in the parent, then the workers are forked from it.
    app = make_app(tmp_path / "db.sqlite", per_thread=True)
    parent_conn = request_connection(app)
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=child, args=(app, f"p{index}")) for index in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    with app.app_context():
        conn = sqlite.get_db()
        assert conn is parent_conn
        counts = dict(conn.execute("SELECT writer, count(*) FROM items GROUP BY writer").fetchall())
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    expected = {f"p{p}-{t}": WRITES for p in range(PROCESSES) for t in range(THREADS)}
    assert counts == expected

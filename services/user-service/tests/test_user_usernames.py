"""Usernames are folded (NFKC, case-folded): one account per folded name, old databases migrated."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from user_helpers import AuthActions
from user_service import db, validation
from werkzeug.security import generate_password_hash


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        pytest.param("alice", "alice", id="plain"),
        pytest.param("ALICE", "alice", id="upper"),
        pytest.param("\uff21lice", "alice", id="full-width"),
        pytest.param("Stra\u00dfe", "strasse", id="sharp-s-case-folds"),
        pytest.param("\u2160", "i", id="roman-numeral-compatibility"),
    ],
)
def test_fold(name: str, folded: str) -> None:
    assert validation.fold(name) == folded


def test_names_that_fold_alike_are_one_account(auth: AuthActions) -> None:
    """Issue 24, 5: `USER1` and `user1` were two accounts."""
    assert auth.register("User1", "s3cret-pass").status_code == 201
    taken = auth.register("USER1", "other-pass")
    assert taken.status_code == 409
    assert taken.json["field"] == "username"  # type: ignore[index]
    assert auth.register("user1", "other-pass").status_code == 409
    for spelling in ("User1", "user1", "USER1", "\uff35ser1"):
        response = auth.login(spelling, "s3cret-pass")
        assert response.status_code == 200, spelling


def test_a_full_width_sign_up_is_stored_in_its_compatibility_form(auth: AuthActions) -> None:
    response = auth.register("\uff21lice", "s3cret-pass")
    assert response.status_code == 201
    assert response.json["username"] == "Alice"  # type: ignore[index]


def old_database(path: Path, names: list[str]) -> None:
    """A users table as it was before folded keys, with these users (password s3cret-pass)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT NOT NULL UNIQUE,"
            " password_hash TEXT NOT NULL,"
            " created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        for name in names:
            conn.execute(
                "INSERT INTO users (username, password_hash) VALUES (?, ?)",
                (name, generate_password_hash("s3cret-pass")),
            )


def test_the_migration_folds_every_old_row(make_app: Callable[..., Flask], db_path: Path) -> None:
    old_database(db_path, ["Alice", "bob"])
    auth = AuthActions(make_app().test_client())
    assert auth.login("ALICE").status_code == 200
    assert auth.login("BOB").status_code == 200
    assert auth.register("alice").status_code == 409
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT username, username_key FROM users ORDER BY id").fetchall() == [
            ("Alice", "alice"),
            ("bob", "bob"),
        ]


def test_two_old_rows_that_fold_alike_both_keep_working(
    make_app: Callable[..., Flask], db_path: Path, log_lines: Callable[[], list[dict[str, object]]]
) -> None:
    """The older owns the folded name; the newer logs in by its exact name; neither is lost."""
    old_database(db_path, ["USER1", "user1", "Bob"])
    app = make_app()
    warnings = [line for line in log_lines() if line["level"] == "WARNING"]
    assert [(line["msg"], line["user_id"]) for line in warnings] == [
        ("username folds to an older account's; it logs in by its exact name only", 2)
    ]
    make_app()  # a second start (another worker, a restart) changes nothing
    auth = AuthActions(app.test_client())
    older = auth.login("User1")
    assert older.status_code == 200
    newer = auth.login("user1")
    assert newer.status_code == 200
    client = app.test_client()
    claims = []
    for response in (older, newer, auth.login("USER1")):
        token = response.json["access_token"]  # type: ignore[index]
        checked = client.get("/users/authenticate", headers=AuthActions.bearer(token))
        claims.append(checked.json["username"])  # type: ignore[index]
    assert claims == ["USER1", "user1", "USER1"]
    assert auth.register("uSeR1").status_code == 409
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT username, username_key FROM users ORDER BY id").fetchall() == [
            ("USER1", "user1"),
            ("user1", None),
            ("Bob", "bob"),  # rows after a duplicate are keyed too
        ]


def test_the_demo_user_is_not_created_twice_under_another_case(
    make_app: Callable[..., Flask], db_path: Path
) -> None:
    make_app(DEMO_USERNAME="Demo", DEMO_PASSWORD="demo-password")
    make_app(DEMO_USERNAME="DEMO", DEMO_PASSWORD="demo-password")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("Demo",)]


@pytest.mark.parametrize("given", ["DEMO_USERNAME", "DEMO_PASSWORD"])
def test_half_a_demo_account_is_refused_with_a_warning(
    make_app: Callable[..., Flask],
    db_path: Path,
    log_lines: Callable[[], list[dict[str, object]]],
    given: str,
) -> None:
    make_app(**{given: "demo-value-1"})
    warnings = [line["msg"] for line in log_lines() if line["level"] == "WARNING"]
    assert warnings == ["DEMO_USERNAME and DEMO_PASSWORD must both be set; no demo user created"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_a_password_hash_is_replaced_only_over_the_one_it_was_read_with(
    app: Flask, auth: AuthActions
) -> None:
    """Two logins upgrading one account's hash at once: the second finds it replaced."""
    auth.register("alice", "s3cret-pass")
    with app.app_context():
        user = db.find_by_username("alice")
        assert user is not None
        assert db.replace_password_hash(user["id"], user["password_hash"], "new-hash") is True
        assert db.replace_password_hash(user["id"], user["password_hash"], "newer-hash") is False
        assert db.find_by_username("alice")["password_hash"] == "new-hash"  # type: ignore[index]


def test_the_demo_user_is_logged_when_created_and_only_then(
    make_app: Callable[..., Flask], log_lines: Callable[[], list[dict[str, object]]]
) -> None:
    """One INFO line naming it on the start that creates it; none on a start that finds it there."""
    demo = {"DEMO_USERNAME": "Demo", "DEMO_PASSWORD": "demo-password"}
    make_app(**demo)
    first = [line for line in log_lines() if line["level"] == "INFO"]
    make_app(**demo)
    second = [line for line in log_lines() if line["level"] == "INFO"]
    assert [(line["msg"], line.get("username")) for line in first] == [("created demo user", "Demo")]
    assert second == []


def test_password_hashes_reads_every_stored_hash_as_stored(app: Flask, auth: AuthActions) -> None:
    """Start-up learns the stored schemes from these: each row's hash, as its text."""
    auth.register("alice", "s3cret-pass")
    auth.register("bob", "other-pass-1")
    with app.app_context():
        alice, bob = db.find_by_username("alice"), db.find_by_username("bob")
        assert alice is not None
        assert bob is not None
        assert sorted(db.password_hashes()) == sorted([alice["password_hash"], bob["password_hash"]])

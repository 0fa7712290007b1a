"""A wrong password costs the same work whatever its account's scheme, so the same time under load.

Timing is what leaks, but timing on a shared machine is noise: these tests record
the hash checks each failure runs (the real checks still run, through spies) and
require the same checks for every account. Equal work stays equal when a load
slows every check down; a fixed pad measured on a quiet machine does not (the
issue measured 543 ms against 272 ms with two CPU hogs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from user_helpers import AuthActions
from user_service import passwords
from werkzeug.security import check_password_hash, generate_password_hash

CURRENT = f"$argon2id$v=19$m={passwords.MEMORY_COST_KIB},t={passwords.TIME_COST},p={passwords.PARALLELISM}"
# The werkzeug methods spelled out, so their cost (and so their scheme) is fixed; cheaper
# than werkzeug's defaults to keep the tests quick: a scheme is a scheme whatever its cost.
SCRYPT = "scrypt:16384:8:1"
PBKDF2 = "pbkdf2:sha256:10000"


def scheme(password_hash: str) -> str:
    """What a hash's check costs: werkzeug's method, or argon2's variant, version and parameters."""
    if password_hash.startswith("$argon2"):
        return "$".join(password_hash.split("$")[:4])
    return password_hash.partition("$")[0]


def add_user(db_path: Path, username: str, password_hash: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO users (username, password_hash) VALUES (?, ?)", (username, password_hash))


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Function scope: the scheme of every hash checked, in order (the real check still runs)."""
    seen: list[str] = []
    real_hasher = passwords._hasher

    class SpyHasher:
        def __getattr__(self, name: str) -> object:
            return getattr(real_hasher, name)

        def verify(self, password_hash: str, password: str) -> bool:
            seen.append(scheme(password_hash))
            return real_hasher.verify(password_hash, password)

    def spy_check(password_hash: str, password: str) -> bool:
        seen.append(scheme(password_hash))
        return check_password_hash(password_hash, password)

    monkeypatch.setattr(passwords, "_hasher", SpyHasher())
    monkeypatch.setattr(passwords, "check_password_hash", spy_check)
    return seen


@pytest.fixture
def mixed(make_app: Callable[..., Flask], db_path: Path) -> AuthActions:
    """Function scope: a client of an app started on accounts in all three schemes."""
    make_app()  # creates the database
    add_user(
        db_path, "modern", PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash("pw-1")
    )
    add_user(db_path, "scrypt-user", generate_password_hash("pw-2", method=SCRYPT))
    add_user(db_path, "pbkdf2-user", generate_password_hash("pw-3", method=PBKDF2))
    return AuthActions(make_app().test_client())  # this app read the schemes at start-up


def test_the_schemes_stored_are_read_at_start_up(mixed: AuthActions) -> None:
    assert passwords.decoys.schemes() == {CURRENT, SCRYPT, PBKDF2}


@pytest.mark.parametrize("username", ["modern", "scrypt-user", "pbkdf2-user", "nobody"])
def test_every_failure_checks_one_hash_of_each_scheme_stored(
    mixed: AuthActions, checks: list[str], username: str
) -> None:
    assert mixed.login(username, "wrong-password").status_code == 401
    assert sorted(checks) == sorted([CURRENT, SCRYPT, PBKDF2])


def test_with_only_todays_hashes_a_failure_is_one_check_and_nothing_else(
    auth: AuthActions, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No older scheme stored: no decoy, no pad (the old design slept ~0.25 s here)."""
    pauses: list[float] = []
    monkeypatch.setattr("time.sleep", pauses.append)
    auth.register("alice", "s3cret-pass")
    for username in ("alice", "nobody"):
        checks.clear()
        assert auth.login(username, "wrong-password").status_code == 401
        assert (checks, pauses) == ([CURRENT], [])


def test_a_right_password_checks_its_own_hash_only(mixed: AuthActions, checks: list[str]) -> None:
    assert mixed.login("scrypt-user", "pw-2").status_code == 200
    assert checks == [SCRYPT]


def test_a_scheme_stored_after_start_up_is_learned_at_its_first_check(
    auth: AuthActions, db_path: Path, checks: list[str]
) -> None:
    auth.register("alice", "s3cret-pass")
    add_user(db_path, "imported", generate_password_hash("pw", method=SCRYPT))
    assert auth.login("imported", "wrong-password").status_code == 401
    checks.clear()
    assert auth.login("alice", "wrong-password").status_code == 401
    assert sorted(checks) == sorted([CURRENT, SCRYPT])

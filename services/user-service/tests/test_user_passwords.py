"""Password storage: argon2id at OWASP cost, older hashes upgraded at login, bounded hashing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from user_helpers import AuthActions
from user_service import passwords
from werkzeug.security import generate_password_hash

CURRENT_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"


def stored_hash(db_path: Path, username: str) -> str:
    with sqlite3.connect(db_path) as conn:
        (value,) = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return str(value)


def set_hash(db_path: Path, username: str, value: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (value, username))


def test_new_passwords_use_argon2id_at_owasp_cost(auth: AuthActions, db_path: Path) -> None:
    auth.register("alice", "s3cret-pass")
    assert stored_hash(db_path, "alice").startswith(CURRENT_PREFIX)


@pytest.mark.parametrize(
    "old_hash",
    [
        pytest.param(lambda pw: generate_password_hash(pw, method="scrypt"), id="werkzeug-scrypt"),
        pytest.param(lambda pw: generate_password_hash(pw, method="pbkdf2"), id="werkzeug-pbkdf2"),
        pytest.param(
            lambda pw: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(pw), id="argon2-weaker"
        ),
        pytest.param(lambda pw: PasswordHasher().hash(pw), id="argon2-other-parameters"),
    ],
)
def test_older_hashes_still_log_in_and_are_rehashed(
    auth: AuthActions, db_path: Path, old_hash: Callable[[str], str]
) -> None:
    auth.register("alice", "s3cret-pass")
    before = old_hash("s3cret-pass")
    set_hash(db_path, "alice", before)
    assert auth.login("alice", "wrong-password").status_code == 401
    assert stored_hash(db_path, "alice") == before  # a failure changes nothing
    assert auth.login("alice", "s3cret-pass").status_code == 200
    after = stored_hash(db_path, "alice")
    assert after.startswith(CURRENT_PREFIX)
    assert auth.login("alice", "s3cret-pass").status_code == 200
    assert stored_hash(db_path, "alice") == after  # current hashes are left alone


def test_a_current_hash_is_not_rewritten_at_login(auth: AuthActions, db_path: Path) -> None:
    auth.register("alice", "s3cret-pass")
    before = stored_hash(db_path, "alice")
    assert auth.login("alice", "s3cret-pass").status_code == 200
    assert stored_hash(db_path, "alice") == before


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$", "scrypt:1:1:1$x$y"])
def test_a_corrupt_stored_hash_is_a_401_not_a_500(auth: AuthActions, db_path: Path, garbage: str) -> None:
    auth.register("alice", "s3cret-pass")
    set_hash(db_path, "alice", garbage)
    assert auth.login("alice", "s3cret-pass").status_code == 401


def test_at_most_two_hashes_run_at_once_and_one_more_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """2 hash, 1 waits its turn, the rest are turned away at once: 3 threads of 4 at most."""
    active = peak = 0
    lock = threading.Lock()
    release = threading.Event()

    class BlockedHasher:
        """Stands in for argon2: holds its slot until the test releases it."""

        def hash(self, password: str) -> str:
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            release.wait(timeout=10)
            with lock:
                active -= 1
            return "hash"

    monkeypatch.setattr(passwords, "_hasher", BlockedHasher())
    outcomes: list[str] = []

    def sign_up() -> None:
        try:
            passwords.hash_password("pw", wait=10)
        except passwords.HashingBusy:
            outcomes.append("busy")
        else:
            outcomes.append("hashed")

    threads = [threading.Thread(target=sign_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while outcomes.count("busy") < 5 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the outcomes under the deadline above
    assert (peak, outcomes) == (2, ["busy"] * 5)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["busy"] * 5 + ["hashed"] * 3
    assert passwords.MAX_CONCURRENT_HASHES == 2
    assert passwords.MAX_HASHING_THREADS == 3


def test_a_wait_for_a_slot_ends_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    slots = threading.BoundedSemaphore(2)
    monkeypatch.setattr(passwords, "_slots", slots)
    for _ in range(2):
        slots.acquire()  # both taken, as by two long hashes
    wait = 0.2
    started = time.monotonic()
    with pytest.raises(passwords.HashingBusy):
        passwords.hash_password("pw", wait=wait)
    # The deadline itself, plus 1 s of margin for a loaded machine.
    assert wait <= time.monotonic() - started < wait + 1.0


def test_demo_user_and_sign_up_hash_the_same_way(make_app: Callable[..., Flask], db_path: Path) -> None:
    make_app(DEMO_USERNAME="testuser", DEMO_PASSWORD="testpass")
    assert stored_hash(db_path, "testuser").startswith(CURRENT_PREFIX)


@pytest.mark.parametrize("unreadable", ["not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$"])
def test_a_hash_we_cannot_read_needs_replacing(unreadable: str) -> None:
    assert passwords.needs_rehash(unreadable) is True

"""Password hashing with argon2id, older hashes upgraded at login, bounded memory.

Cost: OWASP's first recommended argon2id setting (Password Storage Cheat Sheet):
19 MiB of memory, 2 iterations, 1 lane; ~30 ms per hash on this project's
machines. Hashes made before (werkzeug's `scrypt:32768:8:1$...`, or `pbkdf2:...`)
still verify, and `needs_rehash` tells the login to store a new argon2id hash.

Each hash holds its memory for its whole run, so at most MAX_CONCURRENT_HASHES
run at once per process (others wait their turn): with gunicorn's defaults here
(2 workers) that caps hashing memory at 2 x 2 x 19 MiB, or 2 x 2 x 32 MiB while old
scrypt hashes are still being checked.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
MAX_CONCURRENT_HASHES = 2

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
_LEGACY_PREFIXES = ("scrypt:", "pbkdf2:")

T = TypeVar("T")


def _bounded(work: Callable[[], T]) -> T:
    with _slots:
        return work()


def hash_password(password: str) -> str:
    """Return a salted argon2id hash of the password."""
    return _bounded(lambda: _hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against its stored hash, argon2id or an older werkzeug one."""
    try:
        if password_hash.startswith(_LEGACY_PREFIXES):
            return _bounded(lambda: check_password_hash(password_hash, password))
        return _bounded(lambda: _hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError, ValueError):
        # A stored hash we cannot read (corrupt, or impossible parameters) matches nothing.
        return False


def needs_rehash(password_hash: str) -> bool:
    """Tell whether the hash was made another way or at another cost than today's."""
    if password_hash.startswith(_LEGACY_PREFIXES):
        return True
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Run a failing hash check, so login timing does not reveal unknown usernames."""
    verify_password(_dummy_hash(), password)

"""Decoy hashes, one per password scheme stored, that every failed login checks too.

A wrong password must take as long whatever scheme its account is stored in
(argon2id today, werkzeug's scrypt or pbkdf2 before), or the time tells which
accounts still hold an old hash. A fixed pad measured once (the old design) is
right only on a quiet machine: under load every scheme slows down, the slow
ones by more seconds, and the difference shows again (median 543 ms against
272 ms with two CPU hogs). So a failure does the same work whatever the
account: its own check plus one check of a decoy in each other scheme stored.
Equal work stays equal under any load, and with only argon2id hashes stored a
failure costs one argon2id check and nothing more.

The schemes are read from the database at start-up (create_app) and learned
when a login meets a new one (hashes imported later): the first failure on a
new scheme in a process is the only one that differs.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import HashingError, InvalidHashError
from werkzeug.security import generate_password_hash

#: Prefixes of werkzeug's hashes (`method$salt$hash`); the method names the cost.
LEGACY_PREFIXES = ("scrypt:", "pbkdf2:")
_ARGON2_PREFIX = "$argon2"


def scheme_of(password_hash: str) -> str | None:
    """The scheme and cost a hash was made with (what its check costs), None if unreadable.

    `scrypt:32768:8:1`, `pbkdf2:sha256:1000000`, `$argon2id$v=19$m=19456,t=2,p=1`.
    """
    if password_hash.startswith(LEGACY_PREFIXES):
        method, separator, _ = password_hash.partition("$")
        return method if separator else None
    if password_hash.startswith(_ARGON2_PREFIX):
        parts = password_hash.split("$")
        return "$".join(parts[:4]) if len(parts) == 6 else None
    return None


def make_decoy(password_hash: str) -> str | None:
    """A hash of a random password made the same way as password_hash; None if it can't be."""
    password = secrets.token_urlsafe()
    try:
        if password_hash.startswith(LEGACY_PREFIXES):
            return generate_password_hash(password, method=password_hash.partition("$")[0])
        return PasswordHasher.from_parameters(extract_parameters(password_hash)).hash(password)
    except (HashingError, InvalidHashError, ValueError, TypeError):
        return None  # unreadable or impossible parameters: such a hash matches nothing anyway


class Decoys:
    """The decoy of each scheme known to be stored; thread-safe."""

    def __init__(self) -> None:
        self._by_scheme: dict[str, str] = {}
        self._lock = threading.Lock()

    def reset(self, stored: Iterable[str]) -> None:
        """Forget every scheme, then learn those of the stored hashes (one decoy per scheme)."""
        with self._lock:
            self._by_scheme = {}
        for password_hash in stored:
            self.learn(password_hash)

    def learn(self, password_hash: str) -> None:
        """Make a decoy for the hash's scheme unless one is known (or the hash is unreadable)."""
        scheme = scheme_of(password_hash)
        if scheme is None or scheme in self._by_scheme:
            return
        decoy = make_decoy(password_hash)
        if decoy is not None:
            with self._lock:
                self._by_scheme.setdefault(scheme, decoy)

    def schemes(self) -> frozenset[str]:
        """The schemes known to be stored."""
        with self._lock:
            return frozenset(self._by_scheme)

    def others(self, password_hash: str) -> list[str]:
        """The decoys of every scheme but password_hash's own: what its failure checks besides it."""
        own = scheme_of(password_hash)
        with self._lock:
            return [decoy for scheme, decoy in self._by_scheme.items() if scheme != own]

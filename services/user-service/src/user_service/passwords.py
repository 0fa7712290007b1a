"""Password hashing with argon2id, older hashes upgraded at login, bounded memory and threads.

Cost: OWASP's first recommended argon2id setting (Password Storage Cheat Sheet):
19 MiB of memory, 2 iterations, 1 lane; ~30 ms per hash on this project's
machines. Hashes made before (werkzeug's `scrypt:32768:8:1$...`, or `pbkdf2:...`)
still verify, and `needs_rehash` tells the login to store a new argon2id hash.

Each hash holds its memory for its whole run, so at most MAX_CONCURRENT_HASHES
run at once per process: with gunicorn's defaults here (2 workers) that caps
hashing memory at 2 x 2 x 19 MiB, or 2 x 2 x 32 MiB while old scrypt hashes are
still being checked. At most MAX_WAITING_HASHES more threads wait for a slot, each
for at most the `wait` it is given; any other caller gets HashingBusy at once
(503 with Retry-After), so hashing never holds more than MAX_HASHING_THREADS of a
worker's threads and requests that don't hash (the token check) always find one.

One client holds at most MAX_PLACES_PER_CLIENT of those places per process (a
worker): its next request is refused at once, so with W workers it holds W of
the W x MAX_HASHING_THREADS places and every worker keeps the rest for others.
Counted per worker, without shared state: the cross-worker picture is still
bounded (W places, whatever the connections).

A wrong password checks, besides its own hash, one decoy of every other scheme
stored (decoys.py): every failure does the same work, on a quiet machine and
under load alike, and holds its place only for that work.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from user_service.decoys import LEGACY_PREFIXES, Decoys

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
MAX_CONCURRENT_HASHES = 2
MAX_WAITING_HASHES = 1
MAX_HASHING_THREADS = MAX_CONCURRENT_HASHES + MAX_WAITING_HASHES
#: Places one client (clients.of_request) may hold at once in a process.
MAX_PLACES_PER_CLIENT = 1
#: Default seconds a request waits for a hash slot (HASH_WAIT_SECONDS).
HASH_WAIT_SECONDS = 1.0

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
_places = threading.BoundedSemaphore(MAX_HASHING_THREADS)
_admitted = threading.local()
_held_by_client: dict[str, int] = {}
_clients_lock = threading.Lock()
#: The schemes stored in this process's database (create_app fills it).
decoys = Decoys()

T = TypeVar("T")


class HashingBusy(Exception):
    """No hash slot came free in time: the caller should answer 503 and be retried."""


@contextmanager
def _client_place(client: str | None) -> Iterator[None]:
    """Count one more place for the client, or raise HashingBusy if it holds its share."""
    if client is None:
        yield
        return
    with _clients_lock:
        held = _held_by_client.get(client, 0)
        if held >= MAX_PLACES_PER_CLIENT:
            raise HashingBusy
        _held_by_client[client] = held + 1
    try:
        yield
    finally:
        with _clients_lock:
            if _held_by_client[client] == 1:
                del _held_by_client[client]
            else:
                _held_by_client[client] -= 1


@contextmanager
def admission(client: str | None = None) -> Iterator[None]:
    """Hold one of the MAX_HASHING_THREADS places for this thread, or raise HashingBusy at once.

    Views take it before any other work (the throttle's write included), so a flood
    of hashing requests is turned away for the cost of a semaphore check. A client
    already holding MAX_PLACES_PER_CLIENT places is turned away the same way.
    """
    if getattr(_admitted, "held", False):
        yield
        return
    with _client_place(client):
        if not _places.acquire(blocking=False):
            raise HashingBusy
        _admitted.held = True
        try:
            yield
        finally:
            _admitted.held = False
            _places.release()


def _bounded(work: Callable[[], T], wait: float | None) -> T:
    if wait is None:  # start-up (the demo user): no request waits on us yet
        with _slots:
            return work()
    with admission():
        if not _slots.acquire(timeout=wait):
            raise HashingBusy
        try:
            return work()
        finally:
            _slots.release()


def hash_password(password: str, wait: float | None = HASH_WAIT_SECONDS) -> str:
    """Return a salted argon2id hash of the password; HashingBusy after `wait` seconds without a slot
    (None: wait as long as it takes, outside the request threads' places)."""
    return _bounded(lambda: _hasher.hash(password), wait)


def _matches(password_hash: str, password: str) -> bool:
    try:
        if password_hash.startswith(LEGACY_PREFIXES):
            return check_password_hash(password_hash, password)
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, ValueError):
        # A stored hash we cannot read (corrupt, or impossible parameters) matches nothing.
        return False


def verify_password(password_hash: str, password: str, wait: float = HASH_WAIT_SECONDS) -> bool:
    """Check a password against its stored hash, argon2id or an older werkzeug one.

    A wrong password also checks the decoy of every other scheme stored, in the same
    slot: the same work, so the same time, whatever the account's scheme.
    """

    def check() -> bool:
        decoys.learn(password_hash)  # a scheme imported since start-up
        if _matches(password_hash, password):
            return True
        for decoy in decoys.others(password_hash):
            _matches(decoy, password)
        return False

    return _bounded(check, wait)


def needs_rehash(password_hash: str) -> bool:
    """Tell whether the hash was made another way or at another cost than today's."""
    if password_hash.startswith(LEGACY_PREFIXES):
        return True
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@cache
def dummy_hash() -> str:
    """A current-cost hash of a random password, made once (at start-up: create_app)."""
    return hash_password(secrets.token_urlsafe(16), wait=None)


def remember_schemes(stored: Iterable[str]) -> None:
    """Learn the schemes of the stored hashes, today's included (at start-up: create_app)."""
    decoys.reset([dummy_hash(), *stored])


def burn_time(password: str, wait: float = HASH_WAIT_SECONDS) -> None:
    """Run a failing hash check, so login timing does not reveal unknown usernames."""
    verify_password(dummy_hash(), password, wait)

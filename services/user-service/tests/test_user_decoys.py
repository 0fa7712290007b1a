"""decoys.py: a hash's scheme, a decoy made the same way, one decoy per scheme stored."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from user_service import decoys, passwords
from werkzeug.security import generate_password_hash

CURRENT = f"$argon2id$v=19$m={passwords.MEMORY_COST_KIB},t={passwords.TIME_COST},p={passwords.PARALLELISM}"
SCRYPT = "scrypt:16384:8:1"
PBKDF2 = "pbkdf2:sha256:10000"


@pytest.mark.parametrize(
    ("stored", "scheme"),
    [
        pytest.param(generate_password_hash("pw", method=SCRYPT), SCRYPT, id="scrypt"),
        pytest.param(generate_password_hash("pw", method=PBKDF2), PBKDF2, id="pbkdf2"),
        pytest.param(
            PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw"),
            "$argon2id$v=19$m=8,t=1,p=1",
            id="argon2-weaker",
        ),
        pytest.param("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", CURRENT, id="argon2-current"),
        pytest.param("scrypt:32768:8:1", None, id="werkzeug-without-salt"),
        pytest.param("$argon2id$v=19$m=19456,t=2,p=1$", None, id="argon2-without-hash"),
        pytest.param("not-a-hash", None, id="unreadable"),
        pytest.param("", None, id="empty"),
    ],
)
def test_scheme_of(stored: str, scheme: str | None) -> None:
    assert decoys.scheme_of(stored) == scheme


@pytest.mark.parametrize(
    "stored",
    [
        generate_password_hash("pw", method=SCRYPT),
        generate_password_hash("pw", method=PBKDF2),
        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw"),
    ],
    ids=["scrypt", "pbkdf2", "argon2"],
)
def test_a_decoy_is_made_the_same_way_with_another_password(stored: str) -> None:
    decoy = decoys.make_decoy(stored)
    assert decoy is not None
    assert decoys.scheme_of(decoy) == decoys.scheme_of(stored)
    assert decoy != stored
    assert not passwords._matches(decoy, "pw")  # a random password's hash


@pytest.mark.parametrize(
    "unusable",
    [
        "scrypt:1:1:1$salt$hash",
        "pbkdf2:nosuchdigest:10$salt$hash",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
    ],
)
def test_no_decoy_for_impossible_parameters(unusable: str) -> None:
    registry = decoys.Decoys()
    registry.reset([unusable])
    assert decoys.make_decoy(unusable) is None
    assert registry.schemes() == frozenset()


def test_one_decoy_per_scheme_and_none_for_a_hash_of_its_own() -> None:
    registry = decoys.Decoys()
    fast_scrypt = SCRYPT
    registry.reset(
        [
            generate_password_hash("a", method=fast_scrypt),
            generate_password_hash("b", method=fast_scrypt),
            "junk",
        ]
    )
    assert registry.schemes() == {fast_scrypt}
    assert registry.others(generate_password_hash("c", method=fast_scrypt)) == []
    (decoy,) = registry.others("junk")  # an unreadable hash checks every decoy
    assert decoy.startswith(fast_scrypt + "$")
    registry.reset([])
    assert registry.schemes() == frozenset()


def test_a_new_registry_learns_without_a_reset() -> None:
    registry = decoys.Decoys()
    registry.learn(generate_password_hash("a", method=SCRYPT))
    assert registry.schemes() == {SCRYPT}


def test_a_known_scheme_makes_no_second_decoy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each decoy costs a hash: one per scheme, however many accounts use it."""
    made: list[str] = []
    real = decoys.make_decoy

    def counting(password_hash: str) -> str | None:
        made.append(password_hash)
        return real(password_hash)

    monkeypatch.setattr(decoys, "make_decoy", counting)
    registry = decoys.Decoys()
    first, second = (generate_password_hash(password, method=SCRYPT) for password in "ab")
    registry.learn(first)
    registry.learn(second)
    registry.learn("junk")  # unreadable: no scheme, nothing made
    assert made == [first]

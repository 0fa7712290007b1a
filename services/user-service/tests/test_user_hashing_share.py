"""One client can't take every hashing place: its share is MAX_PLACES_PER_CLIENT per worker.

Before, 8 connections from one address held all 6 places (3 per worker) and every
other client's login and sign-up got 503. Here a hash is held open by a gate, so the
places stay taken for exactly as long as the test says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pytest
from flask import Flask
from user_helpers import behind, client_at
from user_service import passwords

ATTACKER, VICTIM = "192.0.2.1", "198.51.100.7"
GUESS = "attacker-guess"
# A gated hash waits at most this long: the tests release it well before.
GATE_TIMEOUT_SECONDS = 30.0
# Past the configured wait for a slot, for a loaded machine.
GATE_MARGIN_SECONDS = 5.0


@dataclass
class Gate:
    """Checks of GUESS wait at the gate: `entered` is released once per check that started."""

    entered: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    opened: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """Function scope: checks of GUESS hold their place and slot until the gate opens (at the end)."""
    gate = Gate()
    real = passwords._hasher

    class GatedHasher:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def verify(self, password_hash: str, password: str) -> bool:
            if password == GUESS:
                gate.entered.release()
                gate.opened.wait(GATE_TIMEOUT_SECONDS)
            return real.verify(password_hash, password)

    monkeypatch.setattr(passwords, "_hasher", GatedHasher())
    yield gate
    gate.opened.set()


@pytest.fixture
def one_guess_hashing(app: Flask, gate: Gate) -> Iterator[Future[int]]:
    """Function scope: the attacker's wrong login for `victim`, held inside its hash check."""
    client_at(app, VICTIM).register("victim", "right-pass")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(lambda: client_at(app, ATTACKER).login("victim", GUESS).status_code)
        assert gate.entered.acquire(timeout=GATE_TIMEOUT_SECONDS), "the attacker's check never started"
        yield held
        gate.opened.set()


def test_a_client_holding_its_share_gets_503_at_once(app: Flask, one_guess_hashing: Future[int]) -> None:
    attacker = client_at(app, ATTACKER)
    for response in (attacker.login("victim", "another-guess"), attacker.register("sockpuppet", "password1")):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "busy" in response.json["error"]  # type: ignore[index]


def test_another_client_still_logs_in_and_signs_up(
    app: Flask, one_guess_hashing: Future[int], gate: Gate
) -> None:
    """The attacker sends as many more guesses as there are places; the victim still gets in."""
    with ThreadPoolExecutor(max_workers=passwords.MAX_HASHING_THREADS) as pool:
        more = [
            pool.submit(lambda: client_at(app, ATTACKER).login("victim", GUESS).status_code)
            for _ in range(passwords.MAX_HASHING_THREADS)
        ]
        # Refused at once; before, one of them held the second slot and the rest waited for it.
        wait(more, timeout=float(app.config["HASH_WAIT_SECONDS"]) + GATE_MARGIN_SECONDS)
        victim = client_at(app, VICTIM)
        assert victim.login("victim", "right-pass").status_code == 200
        assert victim.register("newcomer", "password1").status_code == 201
        assert not one_guess_hashing.done()  # the attacker's place was held all along
        gate.opened.set()
        assert [guess.result(timeout=GATE_TIMEOUT_SECONDS) for guess in more] == [503] * len(more)


def test_the_share_is_given_back_when_the_hash_ends(
    app: Flask, one_guess_hashing: Future[int], gate: Gate
) -> None:
    attacker = client_at(app, ATTACKER)
    assert attacker.login("victim", "another-guess").status_code == 503
    gate.opened.set()
    assert one_guess_hashing.result(timeout=GATE_TIMEOUT_SECONDS) == 401
    assert attacker.login("victim", "another-guess").status_code == 401


@pytest.mark.parametrize("share", [1, 2])
def test_exactly_the_share_is_admitted_and_one_more_is_refused(
    monkeypatch: pytest.MonkeyPatch, share: int
) -> None:
    monkeypatch.setattr(passwords, "MAX_PLACES_PER_CLIENT", share)
    monkeypatch.setattr(passwords, "_places", threading.BoundedSemaphore(passwords.MAX_HASHING_THREADS))
    held, release = threading.Semaphore(0), threading.Event()
    refusals: list[str] = []

    def hold(client: str) -> None:
        try:
            with passwords.admission(client):
                held.release()
                release.wait(GATE_TIMEOUT_SECONDS)
        except passwords.HashingBusy:
            refusals.append(client)
            held.release()

    threads = [threading.Thread(target=hold, args=(ATTACKER,)) for _ in range(share + 1)]
    threads.append(threading.Thread(target=hold, args=(VICTIM,)))
    try:
        for thread in threads:
            thread.start()
            assert held.acquire(timeout=GATE_TIMEOUT_SECONDS)
        assert refusals == [ATTACKER]
    finally:
        release.set()
        for thread in threads:
            thread.join(GATE_TIMEOUT_SECONDS)
    assert passwords._held_by_client == {}  # every place given back
    with passwords.admission(ATTACKER):  # and the client is admitted again
        pass


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_share(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, gate: Gate
) -> None:
    """The share follows the client TRUSTED_PROXIES names, not the proxy's own address."""
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1/32")
    app = make_app()

    behind(app, VICTIM).register("victim", "right-pass")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(lambda: behind(app, ATTACKER).login("victim", GUESS).status_code)
        assert gate.entered.acquire(timeout=GATE_TIMEOUT_SECONDS), "the attacker's check never started"
        assert behind(app, ATTACKER).login("victim", "another-guess").status_code == 503
        assert behind(app, VICTIM).login("victim", "right-pass").status_code == 200
        gate.opened.set()
        assert held.result(timeout=GATE_TIMEOUT_SECONDS) == 401

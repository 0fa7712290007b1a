"""Failed-login throttling: 429 with Retry-After per (account, client), per client and per device."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from user_helpers import WINDOW, AuthActions, client_at
from user_service import device, passwords, throttle


def counters(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("SELECT key, failures FROM login_failures").fetchall())


def user_id(db_path: Path, username: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()[0])


def end_windows(db_path: Path) -> None:
    """As if every counter's window had passed (the rows are still there)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE login_failures SET window_start = window_start - ?", (WINDOW,))


def register_all(app: Flask, names: list[str]) -> None:
    """Sign these up from an address of their own (10.9.0.x: one per 3 names, under no limit here)."""
    for number, name in enumerate(names):
        assert client_at(app, f"10.9.{number // 250}.{number % 250}").register(name).status_code == 201


def test_defaults_are_far_above_what_a_test_suite_does(app: Flask) -> None:
    assert app.config["LOGIN_FAILURES_PER_ACCOUNT"] == 10
    assert app.config["LOGIN_FAILURES_PER_CLIENT"] == 1000
    assert app.config["LOGIN_FAILURE_WINDOW_SECONDS"] == WINDOW
    assert app.config["TRUSTED_PROXIES"] == ()
    assert app.config["DEVICE_COOKIE_TTL_SECONDS"] == 30 * 24 * 3600


def test_a_client_is_refused_for_an_account_after_its_limit_even_with_the_right_password(
    guarded: Flask,
) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        assert auth.login("alice", "wrong-password").status_code == 401
    started = time.time()
    response = auth.login("alice", "s3cret-pass")
    assert response.status_code == 429
    assert response.is_json
    assert "too many failed logins" in response.json["error"]  # type: ignore[index]
    retry_after = int(response.headers["Retry-After"])
    # The window started at the first failure, a moment before `started`.
    assert WINDOW - (time.time() - started) - 5 <= retry_after <= WINDOW


def test_one_client_cannot_lock_an_account_for_other_clients(guarded: Flask) -> None:
    """Issue 24, 5: ten requests from one address no longer lock an account for every address."""
    mallory = client_at(guarded, "10.0.0.1")
    alice = client_at(guarded, "10.0.0.2")
    alice.register("alice", "s3cret-pass")
    alice.register("bob", "s3cret-pass")
    for _ in range(10):
        mallory.login("alice", "guess-guess")
    assert mallory.login("alice", "s3cret-pass").status_code == 429  # mallory's pair is locked
    assert alice.login("alice", "s3cret-pass").status_code == 200  # alice's is not
    assert mallory.login("bob", "s3cret-pass").status_code == 200


def test_a_success_before_the_limit_starts_the_pair_afresh(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(2):
        auth.login("alice", "wrong-password")
    assert auth.login("alice", "s3cret-pass").status_code == 200
    fresh = client_at(guarded, "10.0.0.1")  # same address, no device cookie
    for _ in range(2):
        assert fresh.login("alice", "wrong-password").status_code == 401
    assert fresh.login("alice", "s3cret-pass").status_code == 200


def test_password_spraying_is_bounded_per_client(guarded: Flask) -> None:
    """Issue 24, 4: one guess per account used to pass for ever; now LOGIN_FAILURES_PER_CLIENT in all."""
    register_all(guarded, [f"user{number}" for number in range(7)])
    sprayer = client_at(guarded, "10.0.0.9")
    for number in range(5):
        assert sprayer.login(f"user{number}", "password1").status_code == 401
    refused = sprayer.login("user5", "password1")  # an account it never tried
    assert refused.status_code == 429
    assert WINDOW - 5 <= int(refused.headers["Retry-After"]) <= WINDOW
    assert sprayer.login("user6", "s3cret-pass").status_code == 429  # even right: not judged
    assert sprayer.login("nobody", "password1").status_code == 429  # a refusal tells no name apart
    assert client_at(guarded, "10.0.0.10").login("user5", "s3cret-pass").status_code == 200


def test_junk_names_from_a_shared_address_never_block_a_typo_then_the_right_password(guarded: Flask) -> None:
    """Issue 24, 4: a typo after 1,000 junk failures behind one address got 429 for 15 minutes."""
    nat = client_at(guarded, "172.17.0.1")
    nat.register("alice", "s3cret-pass")
    for number in range(20):  # four times the client limit
        assert nat.login(f"junk{number}", "password1").status_code == 401
    assert nat.login("alice", "typo-pass").status_code == 401
    assert nat.login("alice", "s3cret-pass").status_code == 200


def test_names_that_dont_exist_store_nothing_per_name(guarded: Flask, db_path: Path) -> None:
    """Issue 24, 1: each unknown name made an account:<name> row; now one row per client."""
    auth = client_at(guarded, "10.0.0.1")
    for number in range(50):
        assert auth.login(f"nobody{number}", "password1").status_code == 401
    assert counters(db_path) == {"unknown:10.0.0.1": 50}


def test_invalid_requests_do_not_count_as_failed_logins(guarded: Flask) -> None:
    client = guarded.test_client()
    auth = AuthActions(client)
    auth.register("alice", "s3cret-pass")
    for _ in range(10):
        assert client.post("/auth/token", json={"username": "alice"}).status_code == 400
        assert client.post("/auth/token", data="{", content_type="application/json").status_code == 400
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_the_block_lifts_when_the_window_ends(guarded: Flask, db_path: Path) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        auth.login("alice", "wrong-password")
    assert auth.login("alice", "s3cret-pass").status_code == 429
    end_windows(db_path)
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_state_is_shared_by_every_process_on_the_database(make_app: Callable[..., Flask]) -> None:
    # Two apps on one file, as two gunicorn workers are.
    limits = {"LOGIN_FAILURES_PER_ACCOUNT": 2}
    first, second = client_at(make_app(**limits), "10.0.0.1"), client_at(make_app(**limits), "10.0.0.1")
    first.register("alice", "s3cret-pass")
    first.login("alice", "wrong-password")
    second.login("alice", "wrong-password")
    assert first.login("alice", "s3cret-pass").status_code == 429
    assert second.login("alice", "s3cret-pass").status_code == 429


def test_a_429_costs_no_password_hash(guarded: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(3):
        auth.login("alice", "wrong-password")

    def no_hashing(*_args: object) -> bool:
        raise AssertionError("a blocked login must not hash")

    monkeypatch.setattr(passwords, "verify_password", no_hashing)
    monkeypatch.setattr(passwords, "burn_time", no_hashing)
    assert auth.login("alice", "s3cret-pass").status_code == 429


def test_429_is_documented_with_retry_after(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").json["paths"]["/auth/token"]["post"]  # type: ignore[index]
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_the_failure_count_starts_again_when_its_window_ends(guarded: Flask, db_path: Path) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(2):
        assert auth.login("alice", "wrong-password").status_code == 401
    end_windows(db_path)
    for _ in range(2):  # 2 + 2 would be over the limit of 3 without the reset
        assert auth.login("alice", "wrong-password").status_code == 401
    assert counters(db_path)[f"pair:{user_id(db_path, 'alice')}@10.0.0.1"] == 2
    assert auth.login("alice", "s3cret-pass").status_code == 200


@pytest.mark.parametrize(
    ("elapsed", "count_after"),
    [
        pytest.param(WINDOW - 0.001, 3, id="just-inside-the-window"),
        pytest.param(WINDOW, 1, id="exactly-at-its-end"),
        pytest.param(WINDOW + 1, 1, id="after-it"),
    ],
)
def test_the_window_boundary(guarded: Flask, db_path: Path, elapsed: float, count_after: int) -> None:
    start = 1_000_000.0
    with guarded.test_request_context():
        keys = throttle.login_keys(7, "10.0.0.1", device=False)
        for _ in range(2):
            throttle.begin(keys, now=start)
        throttle.begin(keys, now=start + elapsed)
        assert counters(db_path)["pair:7@10.0.0.1"] == count_after
        if count_after == 3:  # at the limit, until the window's last instant
            with pytest.raises(throttle.Refused) as refused:
                throttle.begin(keys, now=start + elapsed)
            assert refused.value.retry_after == 1


def test_an_attempt_is_counted_before_its_hash(
    guarded: Flask, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    seen: list[dict[str, int]] = []

    def verify(_stored: str, _password: str, _wait: float) -> bool:
        seen.append(counters(db_path))
        return True

    monkeypatch.setattr(passwords, "verify_password", verify)
    assert auth.login("alice", "s3cret-pass").status_code == 200
    signed_up = {"signup:10.0.0.1": 1}
    pair = f"pair:{user_id(db_path, 'alice')}@10.0.0.1"
    assert seen == [{**signed_up, pair: 1, "client:10.0.0.1": 1}]
    assert counters(db_path) == signed_up  # a success takes its count back, the client's included


def test_concurrent_guesses_never_pass_the_limit(
    make_app: Callable[..., Flask], db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """32 wrong passwords at once from one client against a limit of 10: exactly 10 are judged."""
    app = make_app(LOGIN_FAILURES_PER_ACCOUNT=10)
    client_at(app, "10.0.0.1").register("alice", "s3cret-pass")
    guesses = 32
    monkeypatch.setattr(passwords, "_places", threading.BoundedSemaphore(guesses))  # no 503s here
    monkeypatch.setattr(passwords, "_slots", threading.BoundedSemaphore(guesses))
    monkeypatch.setattr(passwords, "MAX_PLACES_PER_CLIENT", guesses)  # nor per-client refusals
    barrier = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess(number: int) -> None:
        auth = client_at(app, "10.0.1.1")
        barrier.wait()
        statuses.append(auth.login("alice", f"wrong-{number}").status_code)

    threads = [threading.Thread(target=guess, args=(number,)) for number in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [401] * 10 + [429] * 22
    assert counters(db_path)[f"pair:{user_id(db_path, 'alice')}@10.0.1.1"] == 10


def test_a_lock_stays_when_the_table_fills(
    guarded: Flask, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures from 10 addresses can't push a lock out (issue 18, 1): the weakest rows go first."""
    monkeypatch.setattr(throttle, "MAX_KEYS", 30)
    register_all(guarded, ["alice", *(f"user{number}" for number in range(40))])
    mallory = client_at(guarded, "10.0.0.1")
    for _ in range(3):
        mallory.login("alice", "wrong-password")
    for address in range(10):
        attacker = client_at(guarded, f"10.0.2.{address}")
        for number in range(4):  # under the client limit of 5 each: 40 pairs, 10 clients
            attacker.login(f"user{address * 4 + number}", "password1")
        assert mallory.login("alice", "s3cret-pass").status_code == 429
    kept = counters(db_path)
    assert kept[f"pair:{user_id(db_path, 'alice')}@10.0.0.1"] == 3
    assert len(kept) <= throttle.MAX_KEYS
    assert all(kept[f"client:10.0.2.{address}"] == 4 for address in range(10))  # spraying bounds kept


def test_a_full_table_locks_nobody_out(
    guarded: Flask, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24, 1: at MAX_KEYS rows new accounts shared one counter, and 10 failures locked everyone."""
    monkeypatch.setattr(throttle, "MAX_KEYS", 5)
    register_all(guarded, ["alice", *(f"user{number}" for number in range(12))])
    for number in range(12):  # 12 addresses, one failure each: far more counters than fit
        assert client_at(guarded, f"10.0.3.{number}").login(f"user{number}", "password1").status_code == 401
    assert len(counters(db_path)) <= throttle.MAX_KEYS
    assert client_at(guarded, "10.0.4.1").login("alice", "s3cret-pass").status_code == 200
    newcomer = client_at(guarded, "10.0.4.2")
    assert newcomer.register("newcomer").status_code == 201
    assert newcomer.login("newcomer").status_code == 200


def test_when_full_the_weakest_counter_makes_room(
    guarded: Flask, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 3)
    start = 1_000_000.0
    with guarded.test_request_context():
        strong, older, newer = (throttle.Key(name, 10) for name in ("strong", "older", "newer"))
        throttle.begin([strong], now=start)
        throttle.begin([strong], now=start)
        throttle.begin([older], now=start + 1)
        throttle.begin([newer], now=start + 2)
        throttle.begin([strong], now=start + 3)  # an existing row takes no room
        assert counters(db_path) == {"strong": 3, "older": 1, "newer": 1}
        throttle.begin([throttle.Key("fourth", 10)], now=start + 4)
        assert counters(db_path) == {"strong": 3, "newer": 1, "fourth": 1}
        # A window that has ended goes first, however many failures it held.
        throttle.begin([throttle.Key("ended", 10)], now=start + WINDOW + 1)
        assert counters(db_path) == {"newer": 1, "fourth": 1, "ended": 1}


def test_one_ipv6_64_is_one_client(guarded: Flask) -> None:
    register_all(guarded, [f"user{number}" for number in range(6)])
    for number in range(5):
        client_at(guarded, f"2001:db8::{number + 1:x}").login(f"user{number}", "password1")
    assert client_at(guarded, "2001:db8::ffff").login("user5", "password1").status_code == 429
    assert client_at(guarded, "2001:db8:0:1::1").login("user5", "password1").status_code == 401


def test_sign_up_counts_keep_their_window(guarded: Flask, db_path: Path) -> None:
    start = 1_000_000.0
    with guarded.test_request_context():
        key = throttle.Key("signup:10.0.0.1", 2)
        throttle.begin([key], now=start)
        throttle.begin([key], now=start + 1)
        with pytest.raises(throttle.Refused) as refused:
            throttle.begin([key], now=start + 2)
        assert refused.value.retry_after == WINDOW - 2
        throttle.begin([key], now=start + WINDOW)  # the window ended: counted afresh
    assert counters(db_path)["signup:10.0.0.1"] == 1


# --- Device cookies: a client that logged in before keeps passing (OWASP) ---------------


def test_a_device_that_logged_in_before_passes_whatever_its_address_did(guarded: Flask) -> None:
    """Issue 24, 4 and 5: the address is at its spraying bound and alice's pair from it is locked."""
    register_all(guarded, [f"user{number}" for number in range(5)])
    alice = client_at(guarded, "172.17.0.1")
    alice.register("alice", "s3cret-pass")
    assert alice.login("alice", "s3cret-pass").status_code == 200  # sets the device cookie
    junk = client_at(guarded, "172.17.0.1")  # someone else behind the same address
    for number in range(5):
        junk.login(f"user{number}", "password1")
    for _ in range(3):
        junk.login("alice", "password1")
    assert junk.login("alice", "s3cret-pass").status_code == 429
    assert alice.login("alice", "typo-pass").status_code == 401
    assert alice.login("alice", "s3cret-pass").status_code == 200


def test_a_device_cookie_allows_its_own_limit_of_failures(guarded: Flask, db_path: Path) -> None:
    alice = client_at(guarded, "10.0.0.1")
    alice.register("alice", "s3cret-pass")
    assert alice.login("alice", "s3cret-pass").status_code == 200
    for _ in range(3):
        assert alice.login("alice", "wrong-password").status_code == 401
    assert counters(db_path) == {"signup:10.0.0.1": 1, f"device:{user_id(db_path, 'alice')}": 3}
    assert alice.login("alice", "s3cret-pass").status_code == 429  # a stolen cookie gets 3 guesses
    assert client_at(guarded, "10.0.0.2").login("alice", "s3cret-pass").status_code == 200


def test_the_device_cookie_is_scoped_and_hidden_from_scripts(app: Flask) -> None:
    auth = client_at(app, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    response = auth.login("alice", "s3cret-pass")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{device.COOKIE}="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "Path=/auth" in cookie
    assert "SameSite=Strict" in cookie
    assert f"Max-Age={30 * 24 * 3600}" in cookie


def test_another_accounts_device_cookie_counts_for_nothing(guarded: Flask) -> None:
    register_all(guarded, ["alice"])
    bob = client_at(guarded, "10.0.0.1")
    bob.register("bob", "s3cret-pass")
    assert bob.login("bob", "s3cret-pass").status_code == 200  # a cookie for bob
    for _ in range(3):
        bob.login("alice", "wrong-password")
    assert bob.login("alice", "s3cret-pass").status_code == 429  # bob's cookie isn't alice's


def test_a_success_with_the_device_cookie_clears_its_counter(guarded: Flask) -> None:
    alice = client_at(guarded, "10.0.0.1")
    alice.register("alice", "s3cret-pass")
    assert alice.login("alice", "s3cret-pass").status_code == 200
    for _ in range(2):
        assert alice.login("alice", "wrong-password").status_code == 401
    assert alice.login("alice", "s3cret-pass").status_code == 200
    for _ in range(2):  # 2 + 2 would be over the cookie's limit of 3 without the clearing
        assert alice.login("alice", "wrong-password").status_code == 401
    assert alice.login("alice", "s3cret-pass").status_code == 200


def test_a_count_keeps_the_time_it_is_given(guarded: Flask, db_path: Path) -> None:
    with guarded.test_request_context():
        throttle.count(throttle.Key("conflict:10.0.0.1", 2, counted=False), now=1_000_000.0)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT key, failures, window_start FROM login_failures").fetchall() == [
            ("conflict:10.0.0.1", 1, 1_000_000.0)
        ]

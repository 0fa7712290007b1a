"""Failed-login throttling: 429 with Retry-After per account and per client, shared, bounded."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from user_helpers import AuthActions
from user_service import passwords, throttle

WINDOW = 900


@pytest.fixture
def guarded(make_app: Callable[..., Flask]) -> Flask:
    """Function scope: an app whose limits are small enough to reach in a test."""
    return make_app(
        LOGIN_FAILURES_PER_ACCOUNT=3, LOGIN_FAILURES_PER_CLIENT=5, LOGIN_FAILURE_WINDOW_SECONDS=WINDOW
    )


def client_at(app: Flask, address: str) -> AuthActions:
    """AuthActions for a client connecting from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


def test_defaults_are_far_above_what_a_test_suite_does(app: Flask) -> None:
    assert app.config["LOGIN_FAILURES_PER_ACCOUNT"] == 10
    assert app.config["LOGIN_FAILURES_PER_CLIENT"] == 1000
    assert app.config["LOGIN_FAILURE_WINDOW_SECONDS"] == WINDOW


def test_account_is_refused_with_429_after_its_limit_even_with_the_right_password(guarded: Flask) -> None:
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


def test_the_block_is_per_account(guarded: Flask) -> None:
    mallory = client_at(guarded, "10.0.0.1")
    alice = client_at(guarded, "10.0.0.2")
    alice.register("alice", "s3cret-pass")
    alice.register("bob", "s3cret-pass")
    for _ in range(3):
        mallory.login("alice", "guess-guess")
    assert alice.login("alice", "s3cret-pass").status_code == 429
    assert alice.login("bob", "s3cret-pass").status_code == 200


def test_a_success_before_the_limit_starts_the_account_afresh(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(2):
        auth.login("alice", "wrong-password")
    assert auth.login("alice", "s3cret-pass").status_code == 200
    for _ in range(2):
        assert auth.login("alice", "wrong-password").status_code == 401
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_a_client_at_its_limit_is_refused_for_accounts_with_failures(guarded: Flask) -> None:
    sprayer = client_at(guarded, "10.0.0.9")
    sprayer.register("bob", "s3cret-pass")
    for number in range(5):
        assert sprayer.login(f"user{number}", "password1").status_code == 401
    # user0 has a failure of its own: the client's limit refuses it before any hash.
    refused = sprayer.login("user0", "password1")
    assert refused.status_code == 429
    assert WINDOW - 5 <= int(refused.headers["Retry-After"]) <= WINDOW
    assert sprayer.login("bob", "password1").status_code == 401  # bob had none: judged
    assert sprayer.login("bob", "s3cret-pass").status_code == 429  # now bob has one
    assert client_at(guarded, "10.0.0.10").login("bob", "s3cret-pass").status_code == 200


def test_junk_from_a_shared_address_never_blocks_a_correct_first_login(guarded: Flask) -> None:
    # Behind NAT or a proxy every caller is one client (issue 18, defect 2).
    nat = client_at(guarded, "172.17.0.1")
    nat.register("alice", "s3cret-pass")
    for number in range(20):
        nat.login(f"junk{number}", "password1")
    assert nat.login("alice", "s3cret-pass").status_code == 200
    assert nat.login("alice", "s3cret-pass").status_code == 200  # and again: a success leaves no count


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
    with sqlite3.connect(db_path) as conn:  # as if the window had passed
        conn.execute("UPDATE login_failures SET window_start = window_start - ?", (WINDOW,))
    assert auth.login("alice", "s3cret-pass").status_code == 200


def test_state_is_shared_by_every_process_on_the_database(make_app: Callable[..., Flask]) -> None:
    # Two apps on one file, as two gunicorn workers are.
    limits = {"LOGIN_FAILURES_PER_ACCOUNT": 2}
    first, second = client_at(make_app(**limits), "10.0.0.1"), client_at(make_app(**limits), "10.0.0.2")
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


def test_unknown_accounts_are_throttled_like_known_ones(guarded: Flask) -> None:
    auth = client_at(guarded, "10.0.0.1")
    for _ in range(3):
        assert auth.login("nobody", "password1").status_code == 401
    assert auth.login("nobody", "password1").status_code == 429


def test_429_is_documented_with_retry_after(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").json["paths"]["/auth/token"]["post"]  # type: ignore[index]
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def counters(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("SELECT key, failures FROM login_failures").fetchall())


def test_the_failure_count_starts_again_when_its_window_ends(guarded: Flask, db_path: Path) -> None:
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for _ in range(2):
        assert auth.login("alice", "wrong-password").status_code == 401
    with sqlite3.connect(db_path) as conn:  # the window ended, the row is still there
        conn.execute("UPDATE login_failures SET window_start = window_start - ?", (WINDOW,))
    for _ in range(2):  # 2 + 2 would be over the limit of 3 without the reset
        assert auth.login("alice", "wrong-password").status_code == 401
    assert counters(db_path)["account:alice"] == 2
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
        account, client = throttle.keys_for("alice", "10.0.0.1")
        for _ in range(2):
            throttle.begin_login(account, client, now=start)
        throttle.begin_login(account, client, now=start + elapsed)
        assert counters(db_path)["account:alice"] == count_after
        if count_after == 3:  # at the limit, until the window's last instant
            with pytest.raises(throttle.Refused) as refused:
                throttle.begin_login(account, client, now=start + elapsed)
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
    assert seen == [{**signed_up, "account:alice": 1, "client:10.0.0.1": 1}]
    assert counters(db_path) == signed_up  # a success takes its count back, the client's included


def test_concurrent_guesses_never_pass_the_limit(
    make_app: Callable[..., Flask], db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """32 wrong passwords at once against a limit of 10: exactly 10 are judged (issue 18, defect 4)."""
    app = make_app(LOGIN_FAILURES_PER_ACCOUNT=10)
    client_at(app, "10.0.0.1").register("alice", "s3cret-pass")
    guesses = 32
    monkeypatch.setattr(passwords, "_places", threading.BoundedSemaphore(guesses))  # no 503s here
    monkeypatch.setattr(passwords, "_slots", threading.BoundedSemaphore(guesses))
    barrier = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess(number: int) -> None:
        auth = client_at(app, f"10.0.1.{number}")
        barrier.wait()
        statuses.append(auth.login("alice", f"wrong-{number}").status_code)

    threads = [threading.Thread(target=guess, args=(number,)) for number in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [401] * 10 + [429] * 22
    assert counters(db_path)["account:alice"] == 10


def test_a_locked_account_stays_locked_when_the_table_fills(
    guarded: Flask, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures for random names from 10 addresses can't push a lock out (issue 18, defect 1)."""
    monkeypatch.setattr(throttle, "MAX_KEYS", 30)
    victim = client_at(guarded, "10.0.0.1")
    victim.register("alice", "s3cret-pass")
    for _ in range(3):
        victim.login("alice", "wrong-password")
    refused = 0
    for address in range(10):
        attacker = client_at(guarded, f"10.0.2.{address}")
        for number in range(4):  # under the client limit of 5 each
            attacker.login(f"random-{address}-{number}", "password1")
        refused += victim.login("alice", "s3cret-pass").status_code == 429
    assert refused == 10
    kept = counters(db_path)
    assert kept["account:alice"] == 3
    assert len(kept) <= throttle.MAX_KEYS + 2  # plus the two overflow counters
    assert kept["overflow:account"] >= 3  # new names shared one counter once the table was full


def test_when_full_new_accounts_share_the_overflow_counter_and_expired_rows_make_room(
    guarded: Flask, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 5)
    auth = client_at(guarded, "10.0.0.1")
    auth.register("alice", "s3cret-pass")
    for number in range(3):  # the sign-up's row, 3 accounts' and the client's: full
        auth.login(f"name{number}", "password1")
    for number in range(3):  # each new name (and client) counts under its overflow counter
        assert client_at(guarded, f"10.0.3.{number}").login(f"new{number}", "password1").status_code == 401
    assert counters(db_path)["overflow:account"] == counters(db_path)["overflow:client"] == 3
    # overflow:account is at the account limit: no account without a counter may log in
    assert auth.login("alice", "s3cret-pass").status_code == 429
    with sqlite3.connect(db_path) as conn:  # those windows end
        conn.execute("UPDATE login_failures SET window_start = window_start - ?", (WINDOW,))
    assert auth.login("alice", "s3cret-pass").status_code == 200


@pytest.mark.parametrize(
    ("address", "client"),
    [
        pytest.param("10.1.2.3", "10.1.2.3", id="ipv4"),
        pytest.param("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64", id="ipv6-its-64"),
        pytest.param("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", id="ipv6-same-64"),
        pytest.param("::ffff:10.1.2.3", "10.1.2.3", id="ipv4-mapped"),
        pytest.param("not-an-address", "unknown", id="junk"),
        pytest.param(None, "unknown", id="none"),
    ],
)
def test_clients_are_addresses_and_ipv6_64s(address: str | None, client: str) -> None:
    assert throttle.client_id(address) == client


def test_one_ipv6_64_is_one_client(guarded: Flask) -> None:
    for number in range(5):
        client_at(guarded, f"2001:db8::{number + 1:x}").login(f"user{number}", "password1")
    assert client_at(guarded, "2001:db8::ffff").login("user0", "password1").status_code == 429
    assert client_at(guarded, "2001:db8:0:1::1").login("user0", "password1").status_code == 401


def test_sign_up_counts_keep_their_window(guarded: Flask, db_path: Path) -> None:
    start = 1_000_000.0
    with guarded.test_request_context():
        key = throttle.Key("signup:10.0.0.1", 2)
        throttle.begin_signup(key, now=start)
        throttle.begin_signup(key, now=start + 1)
        with pytest.raises(throttle.Refused) as refused:
            throttle.begin_signup(key, now=start + 2)
        assert refused.value.retry_after == WINDOW - 2
        throttle.begin_signup(key, now=start + WINDOW)  # the window ended: counted afresh
    assert counters(db_path)["signup:10.0.0.1"] == 1

"""Who a request is blamed on: the TCP peer, or the right-most untrusted X-Forwarded-For hop."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from servicekit.config import ConfigError
from user_helpers import behind
from user_service import clients

LOOPBACK = clients.trusted_proxies("127.0.0.1/32")
PROXIES = clients.trusted_proxies("10.0.0.0/8, 192.0.2.7")


@pytest.mark.parametrize(
    ("address", "client"),
    [
        pytest.param("10.1.2.3", "10.1.2.3", id="ipv4"),
        pytest.param("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64", id="ipv6-its-64"),
        pytest.param("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", id="ipv6-same-64"),
        pytest.param("::ffff:10.1.2.3", "10.1.2.3", id="ipv4-mapped"),
        pytest.param(" 10.1.2.3 ", "10.1.2.3", id="spaces"),
        pytest.param("10.1.2.3:8080", "10.1.2.3", id="ipv4-with-port"),
        pytest.param("[2001:db8:1:2::1]:8080", "2001:db8:1:2::/64", id="ipv6-with-port"),
        pytest.param("[2001:db8:1:2::1]", "2001:db8:1:2::/64", id="ipv6-bracketed"),
        pytest.param("[10.1.2.3", "unknown", id="unclosed-bracket"),
        # The address ends at the first "]": what follows it (a port, or more) is not part of it.
        pytest.param("[2001:db8:1:2::1]:8080]", "2001:db8:1:2::/64", id="address-ends-at-first-bracket"),
        pytest.param("10.1.2.3:80:80", "unknown", id="two-colons-not-ipv6"),
        pytest.param("not-an-address", "unknown", id="junk"),
        pytest.param(None, "unknown", id="none"),
    ],
)
def test_clients_are_addresses_and_ipv6_64s(address: str | None, client: str) -> None:
    assert clients.client_id(address) == client


@pytest.mark.parametrize(
    ("peer", "forwarded", "blamed"),
    [
        pytest.param("203.0.113.9", ["198.51.100.1"], "203.0.113.9", id="untrusted-peer-its-header-ignored"),
        pytest.param("10.0.0.2", [], "10.0.0.2", id="trusted-peer-no-header"),
        pytest.param("10.0.0.2", ["198.51.100.1"], "198.51.100.1", id="one-hop"),
        pytest.param("10.0.0.2", ["1.1.1.1, 198.51.100.1"], "198.51.100.1", id="forged-left-hop-ignored"),
        pytest.param(
            "10.0.0.2", ["1.1.1.1, 198.51.100.1, 10.3.3.3"], "198.51.100.1", id="through-two-proxies"
        ),
        pytest.param("10.0.0.2", ["1.1.1.1", "198.51.100.1, 192.0.2.7"], "198.51.100.1", id="headers-joined"),
        pytest.param("10.0.0.2", ["10.0.0.5, 10.0.0.6"], "10.0.0.5", id="all-hops-ours-the-first"),
        pytest.param("10.0.0.2", ["1.1.1.1, junk"], "junk", id="junk-hop-is-blamed-not-skipped"),
        pytest.param(
            "10.0.0.2", ["198.51.100.1:4711, 10.0.0.3:443"], "198.51.100.1:4711", id="hops-with-ports"
        ),
        pytest.param("10.0.0.2", [" , "], "10.0.0.2", id="empty-hops"),
        pytest.param("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1", id="ipv4-mapped-proxy"),
        pytest.param(None, ["198.51.100.1"], None, id="no-peer"),
    ],
)
def test_the_right_most_untrusted_hop_is_blamed(
    peer: str | None, forwarded: list[str], blamed: str | None
) -> None:
    assert clients.client_address(peer, forwarded, PROXIES) == blamed


def test_with_no_trusted_proxies_the_header_is_never_read() -> None:
    assert clients.client_address("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"


@pytest.mark.parametrize(
    ("raw", "networks"),
    [
        pytest.param("", (), id="empty"),
        pytest.param("10.0.0.0/8", ("10.0.0.0/8",), id="one"),
        pytest.param(
            " 10.0.0.0/8 ,, 172.17.0.1 ", ("10.0.0.0/8", "172.17.0.1/32"), id="spaces-and-bare-address"
        ),
        pytest.param("10.1.2.3/8", ("10.0.0.0/8",), id="host-bits-allowed"),
        pytest.param("fd00::/8", ("fd00::/8",), id="ipv6"),
    ],
)
def test_trusted_proxies_parse(raw: str, networks: tuple[str, ...]) -> None:
    assert tuple(str(network) for network in clients.trusted_proxies(raw)) == networks


def test_a_bad_trusted_proxies_value_stops_start_up_naming_it(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES .*'proxy\.example' is not an address or CIDR"):
        make_app()


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24, 4: behind a proxy every caller was one client."""
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1/32")
    app = make_app(LOGIN_FAILURES_PER_CLIENT=2)
    for name in ("alice", "bob", "carol"):
        behind(app, "198.51.100.9").register(name)
    sprayer = behind(app, "198.51.100.1")
    assert [sprayer.login(name, "guess-1234").status_code for name in ("alice", "bob", "carol")] == [
        401,
        401,
        429,
    ]
    assert behind(app, "198.51.100.2").login("carol").status_code == 200
    # The sprayer can't shed its count by forging hops left of what the proxy saw.
    assert behind(app, "198.51.100.77, 198.51.100.1").login("carol").status_code == 429


def test_without_trusted_proxies_forwarded_for_changes_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGIN_FAILURES_PER_CLIENT=2)
    for name in ("alice", "bob", "carol"):
        behind(app, "198.51.100.9").register(name)
    statuses = [
        behind(app, f"198.51.100.{n}").login(name, "guess-1234").status_code
        for n, name in enumerate(("alice", "bob", "carol"))
    ]
    assert statuses == [401, 401, 429]  # all one client: 127.0.0.1

"""Who a request comes from, for throttling: the TCP peer, or what trusted proxies say it was.

With TRUSTED_PROXIES unset, X-Forwarded-For is ignored (anyone can send one). With
it set (comma-separated CIDRs, e.g. "10.0.0.0/8, 172.17.0.1/32"), a request from a
trusted proxy is attributed to the right-most X-Forwarded-For hop that is not a
trusted proxy itself: each proxy appends the address it saw, so hops left of the
first untrusted one may be forged by the client. An address is counted as one
client; an IPv6 address by its /64, which one host usually holds whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from flask import current_app, request

IPV6_CLIENT_PREFIX = 64
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(raw: str) -> tuple[Network, ...]:
    """Parse TRUSTED_PROXIES: comma-separated CIDRs (a bare address is its /32 or /128)."""
    networks = []
    for item in raw.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{item.strip()!r} is not an address or CIDR") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in text: bare, or with a port as some proxies write it (1.2.3.4:80, [::1]:80)."""
    text = text.strip()
    if text.startswith("["):
        inside, closed, _ = text[1:].partition("]")
        text = inside if closed else text
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    ip = _address(text)
    return ip is not None and any(ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str | None:
    """The address to blame: the peer, or, from a trusted peer, the right-most untrusted hop."""
    if peer is None or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer  # every hop is a proxy of ours: the first one


def client_id(address: str | None) -> str:
    """The client an address stands for: the address, or an IPv6 address's /64."""
    ip = _address(address or "")
    if ip is None:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def of_request() -> str:
    """The client id of the current request, under the app's TRUSTED_PROXIES."""
    proxies = current_app.config["TRUSTED_PROXIES"]
    return client_id(client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"), proxies))

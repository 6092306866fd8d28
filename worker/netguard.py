"""The SSRF guard: refuse to connect anywhere but the public internet.

Feeds and pages are attacker-controlled input, so any URL, and any redirect,
may point at the cloud metadata service, the database or the Redis next door.
The block list is explicit because ``ipaddress`` in Python 3.11 misses several
special-purpose ranges (CGNAT, benchmarking, NAT64, 6to4...). Addresses that
embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by that address.

The guard runs at connection time inside urllib3 (see ``worker.fetch``), on the
exact address the socket then connects to, so a second DNS answer can never
swap in a private address (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Collection
from typing import Any

from editions.errors import BlockedAddressError, NetworkListError, ResolutionError
from editions.settings import ENV_PREFIX

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Said with every refusal, so whoever points editions at a local site knows the way out.
ALLOW_HINT = (
    f"to fetch from it, set {ENV_PREFIX}ALLOW_PRIVATE_ADDRESSES=1 "
    f"or add its network to {ENV_PREFIX}ALLOWED_NETWORKS"
)






IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


_V4_BLOCKS: list[tuple[str, str]] = [
    ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private address (10.0.0.0/8)"),
    ("100.64.0.0/10", "carrier-grade NAT space (100.64.0.0/10)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local, home of cloud metadata services (169.254.0.0/16)"),
    ("172.16.0.0/12", "a private address (172.16.0.0/12)"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation space TEST-NET-1 (192.0.2.0/24)"),
    ("192.88.99.0/24", "the deprecated 6to4 relay anycast (192.88.99.0/24)"),
    ("192.168.0.0/16", "a private address (192.168.0.0/16)"),
    ("198.18.0.0/15", "benchmarking space (198.18.0.0/15)"),
    ("198.51.100.0/24", "documentation space TEST-NET-2 (198.51.100.0/24)"),
    ("203.0.113.0/24", "documentation space TEST-NET-3 (203.0.113.0/24)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    ("255.255.255.255/32", "the broadcast address"),
]

_V6_BLOCKS: list[tuple[str, str]] = [
    ("::/128", "the unspecified address (::)"),
    ("::1/128", "loopback (::1)"),
    ("::/96", "a deprecated IPv4-compatible address (::/96)"),
    ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
    ("100::/64", "the discard prefix (100::/64)"),
    ("2001::/23", "IETF protocol assignments, incl. Teredo (2001::/23)"),
    ("2001:db8::/32", "documentation space (2001:db8::/32)"),
    ("3fff::/20", "documentation space (3fff::/20)"),
    ("5f00::/16", "segment routing SIDs (5f00::/16)"),
    ("fc00::/7", "a unique-local (private) address (fc00::/7)"),
    ("fe80::/10", "link-local (fe80::/10)"),
    ("fec0::/10", "deprecated site-local (fec0::/10)"),
    ("ff00::/8", "multicast (ff00::/8)"),
]

_V4_NETWORKS = [(ipaddress.IPv4Network(net), why) for net, why in _V4_BLOCKS]
_V6_NETWORKS = [(ipaddress.IPv6Network(net), why) for net, why in _V6_BLOCKS]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
# Everything outside global unicast is reserved or special in IPv6.
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def check_address(ip: str, host: str | None = None) -> None:
    """Raise BlockedAddressError unless ``ip`` is a public, globally routable unicast address."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        raise BlockedAddressError(ip, "not an IP address", host) from None
    reason = _block_reason(address)
    if reason is not None:
        raise BlockedAddressError(ip, reason, host, hint=ALLOW_HINT)


def _block_reason(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv4Address):
        for network, why in _V4_NETWORKS:
            if address in network:
                return why
        if not address.is_global:
            return "not globally routable"
        return None

    embedded = _embedded_v4(address)
    if embedded is not None:
        inner = _block_reason(embedded)
        return f"an IPv6 address embedding {embedded}, {inner}" if inner else None
    for network, why in _V6_NETWORKS:
        if address in network:
            return why
    if address not in _V6_GLOBAL_UNICAST:
        return "outside IPv6 global unicast (2000::/3)"
    return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def parse_networks(value: str | Collection[str]) -> tuple[IPNetwork, ...]:
    """CIDR networks from a comma-separated string (the ALLOWED_NETWORKS setting) or a list."""
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise NetworkListError(
                f"ALLOWED_NETWORKS: {text!r} is not a CIDR network ({exc})"
            ) from None
    return tuple(networks)


def resolve_and_check(
    host: str,
    port: int,
    allow_private: bool,
    *,
    allowed_networks: Collection[IPNetwork] = (),
) -> list[tuple[Any, ...]]:
    """Resolve ``host`` (getaddrinfo tuples for TCP) and check every address.

    One blocked address refuses the whole host: a name that mixes public and
    private answers is a rebinding trick, not a misconfiguration to route around.
    Addresses inside ``allowed_networks`` are deliberate exceptions and pass.
    """
    name = host.strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionError(f"cannot resolve {name!r}: {exc}") from exc
    if not infos:
        raise ResolutionError(f"cannot resolve {name!r}: no addresses")
    if not allow_private:
        for info in infos:
            ip = str(info[4][0])
            if not _in_networks(ip, allowed_networks):
                check_address(ip, name)
    return infos


def _in_networks(ip: str, networks: Collection[IPNetwork]) -> bool:
    if not networks:
        return False
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    return any(address.version == net.version and address in net for net in networks)

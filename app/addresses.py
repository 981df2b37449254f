"""Which IP addresses a client URL may reach: public ones only, IPv4 hidden in IPv6 included.

An IPv6 address can carry an IPv4 address inside it (IPv4-mapped and -compatible forms,
NAT64, 6to4, Teredo); a host that routes those forms reaches the IPv4 address, so each
embedded address must pass the IPv4 rules too. ``ipaddress``'s ``is_global`` does not look
inside most of these forms (``::127.0.0.1`` and ``64:ff9b::7f00:1`` count as global).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable


def _low32(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]


def _sixtofour(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    return [ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)]


def _teredo(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    server = ipaddress.IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
    client = ipaddress.IPv4Address(~int(address) & 0xFFFFFFFF)  # stored inverted (RFC 4380)
    return [server, client]


Extract = Callable[[ipaddress.IPv6Address], list[ipaddress.IPv4Address]]

# Every IPv6 form that embeds an IPv4 address, and where the IPv4 address sits in it.
EMBEDDING_FORMS: tuple[tuple[str, ipaddress.IPv6Network, Extract], ...] = (
    ("IPv4-mapped", ipaddress.IPv6Network("::ffff:0:0/96"), _low32),
    ("IPv4-compatible", ipaddress.IPv6Network("::/96"), _low32),
    ("IPv4-translated", ipaddress.IPv6Network("::ffff:0:0:0/96"), _low32),
    ("NAT64", ipaddress.IPv6Network("64:ff9b::/96"), _low32),
    ("NAT64 local-use", ipaddress.IPv6Network("64:ff9b:1::/48"), _low32),
    ("6to4", ipaddress.IPv6Network("2002::/16"), _sixtofour),
    ("Teredo", ipaddress.IPv6Network("2001::/32"), _teredo),
)

# Not globally reachable (IANA special-purpose registry) but missing from older Pythons'
# ``is_global``: the NAT64 local-use prefix (RFC 8215) is an operator's own network.
_NOT_GLOBAL_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"),)


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]]:
    """The name of the form and the IPv4 addresses ``address`` embeds (``("", [])``: none)."""
    for name, network, extract in EMBEDDING_FORMS:
        if address in network:
            return name, extract(address)
    return "", []


def refusal(raw: str) -> str | None:
    """Why ``raw`` (an address as getaddrinfo returns it) must not be reached, or None."""
    address = ipaddress.ip_address(raw.split("%")[0])
    if isinstance(address, ipaddress.IPv4Address):
        return None if address.is_global else f"{address} is not a public address"
    if address.is_loopback or address.is_unspecified:
        return f"{address} is not a public address"
    form, inner = embedded_ipv4(address)
    for ipv4 in inner:
        if not ipv4.is_global:
            return f"{address} is the {form} form of {ipv4}, which is not a public address"
    if not address.is_global or any(address in net for net in _NOT_GLOBAL_V6):
        return f"{address} is not a public address"
    return None

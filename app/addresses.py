"""Which IP addresses a client URL may reach: public ones only, IPv4 hidden in IPv6 included.

This is the one rule for every client address (sources, webhooks, batch items). Public
means globally reachable unicast: ``is_global``, and neither multicast, site-local nor
reserved, which ``ipaddress`` counts as global (``224.0.0.1``, ``fec0::1``, ``ff02::1``).

An IPv6 address can carry an IPv4 address inside it (IPv4-mapped and -compatible forms,
NAT64, 6to4, Teredo); a host that routes those forms reaches the IPv4 address, so each
embedded address must pass the IPv4 rules too. ``ipaddress``'s ``is_global`` does not look
inside most of these forms (``::127.0.0.1`` and ``64:ff9b::7f00:1`` count as global).
"""

from __future__ import annotations

import ipaddress
import socket
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


def literal_address(host: str) -> str | None:
    """The address ``host`` is when written as one, read as the resolver reads it, or None
    for a name. Decimal, hex, octal and short IPv4 forms are addresses (``2130706433``,
    ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1). No network call."""
    try:
        return str(ipaddress.ip_address(host))  # also one with a scope the resolver refuses
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return str(infos[0][4][0])


def _not_public(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, embeds: bool = False
) -> str | None:
    """What ``address`` itself is when it is not public unicast, or None. ``embeds``: an
    IPv4-embedding form, judged by what it carries rather than by the reserved ``::/8`` that
    holds the IPv4-compatible, -mapped and NAT64 prefixes."""
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if address.is_reserved and not embeds:
        return "a reserved address"
    if not address.is_global or any(address in net for net in _NOT_GLOBAL_V6):
        return "not a public address"
    return None


def refusal(raw: str) -> str | None:
    """Why ``raw`` (an address as getaddrinfo returns it) must not be reached, or None."""
    address = ipaddress.ip_address(raw.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_loopback or address.is_unspecified:
            return f"{address} is not a public address"
        form, inner = embedded_ipv4(address)
        for ipv4 in inner:
            what = _not_public(ipv4)
            if what is not None:
                return f"{address} is the {form} form of {ipv4}, which is {what}"
        what = _not_public(address, embeds=bool(form))
    else:
        what = _not_public(address)
    return None if what is None else f"{address} is {what}"

"""The one rule of which addresses a client URL may reach, and how a host written as an
address is read."""

import pytest

from app.addresses import literal_address, refusal


@pytest.mark.parametrize(
    "address,kind",
    [
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("fec0::1", "site-local"),
        ("::ffff:224.0.0.1", "multicast"),
        ("64:ff9b::efff:fffa", "multicast"),
        ("4000::1", "reserved"),
    ],
)
def test_multicast_site_local_and_reserved_addresses_are_not_public(address, kind):
    why = refusal(address)
    assert why is not None and kind in why


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_unicast_addresses_stay_reachable(address):
    assert refusal(address) is None


@pytest.mark.parametrize(
    "host,address",
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("fe80::1%25eth0", "fe80::1%25eth0"),
        ("example.com", None),
        ("0x7f.example", None),
    ],
)
def test_a_host_is_read_as_an_address_as_the_resolver_reads_it(host, address):
    assert literal_address(host) == address

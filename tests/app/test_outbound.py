"""Outbound requests: the SSRF guard over every IPv4-embedding IPv6 form, and the overall
deadline of a download or webhook, whatever the server does."""

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from app.addresses import refusal
from app.errors import InvalidRequestError, SourceUnavailableError
from app.outbound import Delivery, check_url_source, fetch_url, send

# (address, the IPv4 address it embeds or None, refused?)
EMBEDDED_FORMS = [
    # IPv4-compatible (::a.b.c.d)
    ("::127.0.0.1", "127.0.0.1", True),
    ("::169.254.169.254", "169.254.169.254", True),
    ("::10.0.0.1", "10.0.0.1", True),
    ("::8.8.8.8", None, False),
    # IPv4-mapped (::ffff:a.b.c.d)
    ("::ffff:127.0.0.1", "127.0.0.1", True),
    ("::ffff:a9fe:a9fe", "169.254.169.254", True),
    ("::ffff:8.8.8.8", None, False),
    # IPv4-translated (::ffff:0:a.b.c.d, SIIT)
    ("::ffff:0:7f00:1", "127.0.0.1", True),
    # NAT64 well-known prefix 64:ff9b::/96
    ("64:ff9b::7f00:1", "127.0.0.1", True),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254", True),
    ("64:ff9b::c0a8:101", "192.168.1.1", True),
    ("64:ff9b::808:808", None, False),
    # NAT64 local-use prefix 64:ff9b:1::/48: an operator's own network, never public
    ("64:ff9b:1::7f00:1", "127.0.0.1", True),
    ("64:ff9b:1::808:808", None, True),
    # 6to4 (2002:AABB:CCDD::)
    ("2002:7f00:1::", "127.0.0.1", True),
    ("2002:a9fe:a9fe::", "169.254.169.254", True),
    ("2002:a00:1::1", "10.0.0.1", True),
    ("2002:808:808::1", None, False),
    # Teredo (2001:0:server:flags:port:~client)
    ("2001:0:7f00:1::1", "127.0.0.1", True),
    ("2001:0:808:808:0:0:3fff:fffe", "192.0.0.1", True),
    ("2001:0:808:808:0:0:f7f7:f7f7", None, True),  # 2001::/32 is not global itself
    # Plain IPv6 and IPv4
    ("::1", None, True),
    ("::", None, True),
    ("fe80::1", None, True),
    ("fc00::1", None, True),
    ("2606:4700:4700::1111", None, False),
    ("127.0.0.1", None, True),
    ("8.8.8.8", None, False),
]


@pytest.mark.parametrize("address,embedded,refused", EMBEDDED_FORMS)
def test_every_ipv4_embedding_ipv6_form_is_judged_by_its_ipv4_address(address, embedded, refused):
    why = refusal(address)
    assert (why is not None) == refused, why
    if embedded is not None:
        assert why is not None and f"form of {embedded}," in why


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[2002:7f00:1::]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[2001:0:7f00:1::1]/",
    ],
)
def test_urls_with_embedded_inside_addresses_are_refused_for_source_and_webhook(url):
    for field in ("source.url", "webhook_url"):
        with pytest.raises(InvalidRequestError, match=f"{field} resolves to a non-public"):
            check_url_source(url, allow_private=False, field=field)


def test_private_addresses_are_reachable_when_allowed():
    assert check_url_source("http://[64:ff9b::7f00:1]/", allow_private=True).port == 80


@pytest.fixture()
def trickler() -> Iterator[Callable[[bytes, bytes], str]]:
    """A server that sends its header block then its body a byte every 0.25 s, forever
    (the body) or until the socket closes; returns its URL."""
    servers: list[socket.socket] = []

    def start(head: bytes, body_byte: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        servers.append(listener)

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                conn.recv(65536)
                for byte in head:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.25 if byte == 10 and not body_byte else 0)
                while body_byte:
                    conn.sendall(body_byte)
                    time.sleep(0.25)
            except OSError:
                pass
            finally:
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/a.wav"

    yield start
    for listener in servers:
        listener.close()


@pytest.mark.parametrize(
    "head,body_byte",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x"),  # trickled body
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"x"),  # no length: ends at close
        (b"HTTP/1.1 200 OK\r\n" + b"X-Pad: 1\r\n" * 40 + b"\r\n", b""),  # trickled headers
    ],
    ids=["body", "close-delimited", "headers"],
)
def test_a_download_ends_at_its_deadline_whatever_the_server_sends(
    trickler, tmp_path, head, body_byte
):
    url = trickler(head, body_byte)
    start = time.monotonic()
    with pytest.raises(SourceUnavailableError, match="longer than 1.5 s"):
        fetch_url(url, tmp_path / "out", 1 << 20, timeout=1.5, allow_private=True)
    assert time.monotonic() - start < 2.5


def test_a_webhook_receiver_that_trickles_is_a_failed_attempt_at_the_deadline(trickler):
    url = trickler(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"x")
    secret = "whsec_" + "A" * 44
    start = time.monotonic()
    result = send(Delivery("msg_1", url, b"{}"), secret, timeout=1.0, allow_private=True)
    assert time.monotonic() - start < 2.0
    assert not result.delivered and "within 1 s" in (result.error or "")

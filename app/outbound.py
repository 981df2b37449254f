"""Outbound HTTP to client addresses: source downloads and webhook deliveries.

A client address is resolved once, refused when any of its addresses is not public (SSRF),
and the connection is made to that very address (with the original Host header and TLS
name), so a DNS answer that changes between the check and the request cannot reach inside.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from app.addresses import literal_address, refusal
from app.errors import InvalidRequestError, Problem, SourceUnavailableError, TooLargeError

# Download chunk size: small enough to check the size limit often.
CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class Target:
    """A checked client URL: where to connect, and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def check_url_source(url: str, allow_private: bool, field: str = "source.url") -> Target:
    """Parse and resolve ``url``; refuse non-http(s) URLs and non-public addresses."""
    scheme, host, port, path = check_url_form(url, allow_private, field)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidRequestError(f"{field} host {host} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        _refuse_private(address, allow_private, field)
    return Target(scheme, host, port, addresses[0], path)


def check_url_form(
    url: str, allow_private: bool, field: str = "source.url"
) -> tuple[str, str, int, str]:
    """What can be told of ``url`` without a network call: scheme, host, port and path of
    an absolute http(s) URL whose host, when written as an address in any form the resolver
    reads, is public. A name is judged by the addresses it resolves to (``check_url_source``)."""
    try:
        parsed = urlparse(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise InvalidRequestError(f"{field} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidRequestError(f"{field} must be an absolute http or https URL")
    address = literal_address(parsed.hostname)
    if address is not None:
        _refuse_private(address, allow_private, field)
    path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    return parsed.scheme, parsed.hostname, port, path


def _refuse_private(address: str, allow_private: bool, field: str) -> None:
    why = None if allow_private else refusal(address)
    if why is not None:
        raise InvalidRequestError(f"{field} resolves to a non-public address ({why}); refused")


class DeadlineExceededError(urllib3.exceptions.TimeoutError):
    """The whole exchange (connect, send, headers, body) outlasted its deadline."""


class _Watchdog:
    """Shuts a socket when its time is up: a read blocked on a server that trickles a byte
    a second returns at once, whatever the per-read timeout."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.sock = sock  # held here: http.client drops its own reference on "close" answers
        self.expired = threading.Event()
        self.timer = threading.Timer(max(seconds, 0.0), self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self) -> None:
        self.expired.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


def _connection(target: Target, timeout: float) -> HTTPConnection:
    if target.scheme == "https":
        return HTTPSConnection(
            target.address,
            target.port,
            timeout=timeout,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return HTTPConnection(target.address, target.port, timeout=timeout)


@contextlib.contextmanager
def exchange(
    target: Target,
    method: str,
    timeout: float,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Iterator[urllib3.BaseHTTPResponse]:
    """One request to the resolved address (no redirects, no retries, body not preloaded),
    over in ``timeout`` seconds in all, reading the body included: past that the socket is
    shut and DeadlineExceededError raised, even where the read itself ended quietly."""
    deadline = time.monotonic() + timeout
    conn = _connection(target, timeout)
    conn.connect()  # bounded by ``timeout`` itself
    assert conn.sock is not None
    watchdog = _Watchdog(conn.sock, deadline - time.monotonic())
    try:
        conn.request(
            method,
            target.path,
            body=body,
            headers={"Host": target.host_header, **(headers or {})},
            preload_content=False,
        )
        yield conn.getresponse()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if watchdog.expired.is_set():
            raise DeadlineExceededError(f"no complete answer within {timeout:g} s") from exc
        raise
    finally:
        watchdog.timer.cancel()
        conn.close()
    if watchdog.expired.is_set():  # a close-delimited body just ends early when shut
        raise DeadlineExceededError(f"no complete answer within {timeout:g} s")


def fetch_url(
    url: str, target_path: Path, max_bytes: int, timeout: float, allow_private: bool
) -> int:
    """Download ``url`` to ``target_path``, streaming; stop past ``max_bytes`` or after
    ``timeout`` seconds in all (not only per read: a trickling server cannot hold a worker)."""
    target = check_url_source(url, allow_private)
    try:
        with exchange(target, "GET", timeout) as response:
            if 300 <= response.status < 400:
                location = response.headers.get("location")
                raise SourceUnavailableError(
                    f"the URL redirects to {location}; submit the final URL"
                )
            if response.status != 200:
                raise SourceUnavailableError(f"fetching the URL answered HTTP {response.status}")
            return _stream_to(response, target_path, max_bytes)
    except DeadlineExceededError as exc:
        raise SourceUnavailableError(f"the URL took longer than {timeout:g} s to download") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise SourceUnavailableError(
            f"the URL could not be fetched ({type(exc).__name__})"
        ) from exc


def _stream_to(response: urllib3.BaseHTTPResponse, path: Path, max_bytes: int) -> int:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(f"the source is {declared} bytes; the limit is {max_bytes}")
    written = 0
    with path.open("wb") as out:
        for chunk in response.stream(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise TooLargeError(f"the source exceeds the limit of {max_bytes} bytes")
            out.write(chunk)
    return written


@dataclass(frozen=True)
class Delivery:
    """One message; ``message_id`` stays the same across retries so receivers can dedupe."""

    message_id: str
    url: str
    body: bytes


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed by the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def send(delivery: Delivery, secret: str, timeout: float, allow_private: bool) -> AttemptResult:
    """POST the message once; any answer outside 2xx, or no answer, is a failed attempt."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, delivery.message_id, timestamp, delivery.body),
    }
    start = time.perf_counter()
    try:
        target = check_url_source(delivery.url, allow_private, field="webhook_url")
        with exchange(target, "POST", timeout, body=delivery.body, headers=headers) as response:
            response.drain_conn()
            status = response.status
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except Problem as exc:
        status, error = None, exc.detail
    except urllib3.exceptions.HTTPError as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return AttemptResult(status, error, int((time.perf_counter() - start) * 1000))


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float) -> float:
    """Exponential backoff after failed attempt number ``attempt`` (1-based): base * 3^(n-1)."""
    return float(min(base_seconds * 3 ** (attempt - 1), cap_seconds))

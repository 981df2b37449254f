"""Remote sources of a job: an http(s) URL or an object already in storage."""

from __future__ import annotations

import ipaddress
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

import requests

from app.errors import (
    InvalidRequestError,
    NotFoundError,
    SourceUnavailableError,
    TooLargeError,
)
from app.formats import SNIFF_BYTES, sniff_format
from app.storage import Storage


def check_url_source(url: str, allow_private: bool) -> None:
    """Reject URLs that are not http(s) or that point inside our own network (SSRF)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidRequestError("source.url must be an absolute http or https URL")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidRequestError(f"source.url host {parsed.hostname} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise InvalidRequestError(
                f"source.url resolves to a non-public address ({address}); refused")


def check_s3_source(storage: Storage, tenant_id: uuid.UUID, key: str, max_bytes: int) -> None:
    """A tenant may only scan objects under its own ``tenants/{id}/`` prefix."""
    if not key.startswith(f"tenants/{tenant_id}/") or ".." in key.split("/"):
        raise NotFoundError(f"no object {key} for this tenant")
    size = storage.size(key)
    if size is None:
        raise NotFoundError(f"no object {key} for this tenant")
    if size > max_bytes:
        raise TooLargeError(f"the object is {size} bytes; the limit is {max_bytes}")
    sniff_format(storage.head_bytes(key, SNIFF_BYTES))


def fetch_url(url: str, target: Path, max_bytes: int, timeout: float, allow_private: bool) -> int:
    """Download ``url`` to ``target``, streaming, stopping as soon as ``max_bytes`` is passed."""
    check_url_source(url, allow_private)
    try:
        with requests.get(url, stream=True, timeout=timeout, allow_redirects=False) as response:
            if response.is_redirect:
                raise SourceUnavailableError(f"the URL redirects to {response.headers.get('location')}; "
                                             "submit the final URL")
            if response.status_code != 200:
                raise SourceUnavailableError(f"fetching the URL answered HTTP {response.status_code}")
            return _stream_to(response, target, max_bytes)
    except requests.RequestException as exc:
        raise SourceUnavailableError(f"the URL could not be fetched ({type(exc).__name__})") from exc


def _stream_to(response: requests.Response, target: Path, max_bytes: int) -> int:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(f"the source is {declared} bytes; the limit is {max_bytes}")
    written = 0
    with target.open("wb") as out:
        for chunk in response.iter_content(1 << 16):
            written += len(chunk)
            if written > max_bytes:
                raise TooLargeError(f"the source exceeds the limit of {max_bytes} bytes")
            out.write(chunk)
    return written

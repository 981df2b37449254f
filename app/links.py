"""Absolute links to a job's artifacts: the one rule for API answers and webhook payloads."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from app.config import Settings
from app.storage import Storage

# Where `soundscape serve` listens by default: the base of links when nothing says better.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def artifact_links(
    settings: Settings, storage: Storage, job_id: uuid.UUID, request_base: str | None = None
) -> Callable[[str, str], str]:
    """``link(name, key)`` for one job: a presigned storage URL where storage signs them
    (S3), else the API's artifact endpoint under SOUNDSCAPE_PUBLIC_URL, else under the
    address the request came to (``request_base``), else DEFAULT_PUBLIC_URL."""
    base = (settings.public_url or request_base or DEFAULT_PUBLIC_URL).rstrip("/")

    def link(name: str, key: str) -> str:
        signed = storage.url_for(key, settings.presign_expiry_seconds)
        return signed or f"{base}/v1/jobs/{job_id}/artifacts/{name}"

    return link

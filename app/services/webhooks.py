"""Webhooks in the Standard Webhooks scheme: a signed POST to the job's ``webhook_url``
when the job finishes (succeeded, failed or canceled)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import urllib3

from app.errors import Problem
from app.models import Job
from app.serializers import job_to_dict
from app.services.sources import check_url_source, request


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


def build_delivery(job: Job, artifact_url: Callable[[str, str], str | None]) -> Delivery:
    assert job.webhook_url is not None
    event = f"job.{job.status}"
    payload = {"type": event, "timestamp": _iso_now(), "data": job_to_dict(job, artifact_url)}
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return Delivery(message_id=f"msg_{job.id}_{job.status}", url=job.webhook_url, body=body)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed by the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def send(delivery: Delivery, secret: str, timeout: float, allow_private: bool) -> AttemptResult:
    """POST the message once; any answer outside 2xx, or no answer, is a failed attempt."""
    timestamp = int(time.time())
    headers = {"content-type": "application/json", "webhook-id": delivery.message_id,
               "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(secret, delivery.message_id, timestamp, delivery.body)}
    start = time.perf_counter()
    try:
        target = check_url_source(delivery.url, allow_private, field="webhook_url")
        response = request(target, "POST", timeout, body=delivery.body, headers=headers)
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


def _iso_now() -> str:
    from app.models import utcnow

    return utcnow().isoformat()


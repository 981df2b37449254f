"""Webhook delivery (cpu queue): build a finished job's message, send it once through
app.outbound, log the attempt and say when to retry."""

from __future__ import annotations

import json
import logging
import uuid

from app.links import artifact_links
from app.models import TERMINAL_STATUSES, Job, Tenant, WebhookAttempt, utcnow
from app.outbound import Delivery, retry_delay, send
from app.queue import enqueue_webhook
from app.serializers import job_to_dict
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def deliver(runtime: Runtime, job_id: str, attempt: int) -> float | None:
    """Attempt number ``attempt`` (1-based); returns the delay before the next try, or None
    when the message was delivered, there is nothing to send, or the attempts are spent."""
    settings = runtime.settings
    with runtime.session() as session:
        job = session.get(Job, uuid.UUID(job_id))
        if job is None or not job.webhook_url or job.status not in TERMINAL_STATUSES:
            return None
        tenant = session.get(Tenant, job.tenant_id)
        assert tenant is not None
        secret = tenant.webhook_secret
        delivery = build_delivery(job, runtime)
    result = send(delivery, secret, settings.webhook_timeout, settings.allow_private_urls)
    with runtime.session() as session:
        session.add(
            WebhookAttempt(
                job_id=uuid.UUID(job_id),
                message_id=delivery.message_id,
                event=delivery.message_id.rsplit("_", 1)[-1],
                url=delivery.url,
                attempt=attempt,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        session.commit()
    if result.delivered:
        return None
    if attempt >= settings.webhook_max_attempts:
        log.warning(
            "webhook for job %s given up after %d attempts: %s", job_id, attempt, result.error
        )
        return None
    # Stay under the visibility timeout: Redis would redeliver a longer-delayed message.
    cap = max(1.0, 0.9 * settings.visibility_timeout)
    return retry_delay(attempt, settings.webhook_backoff_seconds, cap)


def build_delivery(job: Job, runtime: Runtime) -> Delivery:
    """The message for a finished job: its event and the job as ``GET /v1/jobs/{id}`` shows
    it, with the same absolute artifact links."""
    assert job.webhook_url is not None
    links = artifact_links(runtime.settings, runtime.storage, job.id)
    payload = {
        "type": f"job.{job.status}",
        "timestamp": utcnow().isoformat(),
        "data": job_to_dict(job, links),
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return Delivery(message_id=f"msg_{job.id}_{job.status}", url=job.webhook_url, body=body)


def notify_if_finished(runtime: Runtime, job_id: uuid.UUID) -> None:
    """Queue the webhook of a job that has just reached a terminal state."""
    with runtime.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in TERMINAL_STATUSES or not job.webhook_url:
            return
    enqueue_webhook(runtime.settings, str(job_id))

"""Webhook delivery (cpu queue): build a finished job's (or batch's) message, send it once
through app.outbound, log the attempt and say when to retry."""

from __future__ import annotations

import json
import logging
import uuid

from app.links import artifact_links
from app.outbound import Delivery, retry_delay, send
from app.queue import enqueue_batch_advance, enqueue_webhook
from app.serializers import job_to_dict
from app.services.batch_reads import batch_to_dict, counts
from app.tables import TERMINAL_STATUSES, Batch, Job, Tenant, WebhookAttempt, utcnow
from workers.runtime import Runtime

log = logging.getLogger(__name__)
BATCH_ENDED = ("completed", "canceled")


def deliver(runtime: Runtime, job_id: str, attempt: int) -> float | None:
    """Attempt number ``attempt`` (1-based); returns the delay before the next try, or None
    when the message was delivered, there is nothing to send, or the attempts are spent."""
    with runtime.session() as session:
        job = session.get(Job, uuid.UUID(job_id))
        if job is None or not job.webhook_url or job.status not in TERMINAL_STATUSES:
            return None
        tenant = session.get(Tenant, job.tenant_id)
        assert tenant is not None
        secret = tenant.webhook_secret
        delivery = build_delivery(job, runtime)
    return _attempt(runtime, delivery, secret, attempt, {"job_id": uuid.UUID(job_id)})


def deliver_batch(runtime: Runtime, batch_id: str, attempt: int) -> float | None:
    """``deliver`` for a finished batch: ``batch.completed`` or ``batch.canceled``, with the
    batch as ``GET /v1/batches/{id}`` shows it."""
    with runtime.session() as session:
        batch = session.get(Batch, uuid.UUID(batch_id))
        if batch is None or not batch.webhook_url or batch.status not in BATCH_ENDED:
            return None
        tenant = session.get(Tenant, batch.tenant_id)
        assert tenant is not None
        payload = {
            "type": f"batch.{batch.status}",
            "timestamp": utcnow().isoformat(),
            "data": batch_to_dict(batch, counts(session, batch.id)),
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        message_id = f"msg_{batch.id}_{batch.status}"
        delivery = Delivery(message_id=message_id, url=batch.webhook_url, body=body)
        secret = tenant.webhook_secret
    return _attempt(runtime, delivery, secret, attempt, {"batch_id": batch.id})


def _attempt(
    runtime: Runtime, delivery: Delivery, secret: str, attempt: int, owner: dict[str, uuid.UUID]
) -> float | None:
    """Send once, log the attempt against its job or batch, and say when to retry."""
    settings = runtime.settings
    result = send(delivery, secret, settings.webhook_timeout, settings.allow_private_urls)
    with runtime.session() as session:
        session.add(
            WebhookAttempt(
                **owner,
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
            "webhook %s given up after %d attempts: %s", delivery.message_id, attempt, result.error
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
    """Queue the webhook of a job that has just reached a terminal state; a batch item's
    end also lets its batch go on (next items, completion)."""
    with runtime.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in TERMINAL_STATUSES:
            return
        url, tenant_id, batch_id = job.webhook_url, job.tenant_id, job.batch_id
    if batch_id is not None:
        enqueue_batch_advance(runtime.settings, str(tenant_id), str(batch_id))
    if url:
        enqueue_webhook(runtime.settings, str(job_id))

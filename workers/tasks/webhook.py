"""Webhook adapter: sign and send a finished job's webhook once, and log the attempt."""

from __future__ import annotations

import logging
import uuid

from app.models import TERMINAL_STATUSES, Job, Tenant, WebhookAttempt
from app.queue import enqueue_webhook
from app.services.webhooks import build_delivery, retry_delay, send
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
        delivery = build_delivery(job, lambda name, key: runtime.storage.url_for(
            key, settings.presign_expiry_seconds) or f"/v1/jobs/{job.id}/artifacts/{name}")
    result = send(delivery, secret, settings.webhook_timeout, settings.allow_private_urls)
    with runtime.session() as session:
        session.add(WebhookAttempt(
            job_id=uuid.UUID(job_id), message_id=delivery.message_id,
            event=delivery.message_id.rsplit("_", 1)[-1], url=delivery.url, attempt=attempt,
            status_code=result.status_code, error=result.error, duration_ms=result.duration_ms))
        session.commit()
    if result.delivered:
        return None
    if attempt >= settings.webhook_max_attempts:
        log.warning("webhook for job %s given up after %d attempts: %s", job_id, attempt,
                    result.error)
        return None
    # Stay under the visibility timeout: Redis would redeliver a longer-delayed message.
    cap = max(1.0, 0.9 * settings.visibility_timeout)
    return retry_delay(attempt, settings.webhook_backoff_seconds, cap)


def notify_if_finished(runtime: Runtime, job_id: uuid.UUID) -> None:
    """Queue the webhook of a job that has just reached a terminal state."""
    with runtime.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in TERMINAL_STATUSES or not job.webhook_url:
            return
    enqueue_webhook(runtime.settings, str(job_id))

"""Webhook delivery from the outbox (app/outbox.py), run by every worker's dispatcher thread:
claim a due event, build its message (the job or batch as the API shows it now), send it
once through app.outbound, log the attempt before and after, and say when to try again."""

from __future__ import annotations

import json
import logging
import uuid

from sqlalchemy.orm import Session

from app import outbox
from app.links import artifact_links
from app.outbound import Delivery, retry_delay, send
from app.queue import enqueue_batch_advance
from app.serializers import job_to_dict
from app.services.batch_reads import batch_to_dict, counts
from app.tables import TERMINAL_STATUSES, Batch, Job, Tenant
from workers.publisher import BROKER_ERRORS
from workers.runtime import Runtime

log = logging.getLogger(__name__)
# How often each worker looks for due webhooks: an indexed query on pending rows.
DISPATCH_INTERVAL_SECONDS = 1.0
# A claim outlasts one send (its deadline is webhook_timeout) by this much.
LEASE_MARGIN_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 3600.0
# Events sent per dispatch round, one claim each, so no lease waits behind other sends.
ROUND_LIMIT = 50


def deliver_due_once(runtime: Runtime) -> int:
    """Send every due event (up to ``ROUND_LIMIT``) once; returns how many were tried."""
    lease = runtime.settings.webhook_timeout + LEASE_MARGIN_SECONDS
    tried = 0
    while tried < ROUND_LIMIT:
        with runtime.session() as session:
            claim = outbox.claim_next(session, lease)
        if claim is None:
            break
        deliver(runtime, claim)
        tried += 1
    return tried


def deliver(runtime: Runtime, claim: outbox.Claim) -> None:
    """Attempt ``claim`` once and log how it ended: delivered, due again after a backoff,
    or given up after ``webhook_max_attempts``."""
    settings = runtime.settings
    with runtime.session() as session:
        message = build_message(session, runtime, claim)
    if message is None:
        return  # its job or batch was deleted, and the event with it
    body, secret = message
    delivery = Delivery(message_id=claim.message_id, url=claim.url, body=body)
    result = send(delivery, secret, settings.webhook_timeout, settings.allow_private_urls)
    retry_in = None
    if not result.delivered and claim.attempt < settings.webhook_max_attempts:
        base = settings.webhook_backoff_seconds
        retry_in = retry_delay(claim.attempt, base, MAX_BACKOFF_SECONDS)
    elif not result.delivered:
        attempt, why = claim.attempt, result.error
        log.warning("webhook %s given up after %d attempts: %s", claim.message_id, attempt, why)
    with runtime.session() as session:
        outbox.finish(session, claim, result, retry_in)


def build_message(
    session: Session, runtime: Runtime, claim: outbox.Claim
) -> tuple[bytes, str] | None:
    """The signed body's bytes and the tenant's secret; None when the owner is gone. The
    timestamp is the event's: the same body on every attempt but for fresh artifact links."""
    tenant = session.get(Tenant, claim.tenant_id)
    data = None
    if claim.job_id is not None:
        job = session.get(Job, claim.job_id)
        if job is not None:
            data = job_to_dict(job, artifact_links(runtime.settings, runtime.storage, job.id))
    else:
        batch = session.get(Batch, claim.batch_id)
        if batch is not None:
            data = batch_to_dict(batch, counts(session, batch.id))
    if tenant is None or data is None:
        return None
    payload = {"type": claim.event, "timestamp": claim.created_at.isoformat(), "data": data}
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return body, tenant.webhook_secret


def record_legacy_job_event(runtime: Runtime, job_id: str) -> None:
    """A webhook message queued by a release before the outbox: record its event instead."""
    with runtime.session() as session:
        outbox.record_job_events(session, [uuid.UUID(job_id)])
        session.commit()


def record_legacy_batch_event(runtime: Runtime, batch_id: str) -> None:
    with runtime.session() as session:
        outbox.record_batch_event(session, uuid.UUID(batch_id))
        session.commit()


def advance_batch_if_finished(runtime: Runtime, job_id: uuid.UUID) -> None:
    """A batch item's end lets its batch go on (next items, completion). Best effort: the
    batch sweep advances a batch whose message was lost."""
    with runtime.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in TERMINAL_STATUSES or job.batch_id is None:
            return
        tenant_id, batch_id = job.tenant_id, job.batch_id
    try:
        enqueue_batch_advance(runtime.settings, str(tenant_id), str(batch_id))
    except BROKER_ERRORS:
        log.warning("job %s ended; broker unreachable, the batch sweep advances its batch", job_id)

"""The webhook outbox: an event row is added in the transaction of the state change that
causes it (a job succeeded, failed or was canceled; a batch completed or was canceled), so
no crash and no broker outage can lose it; the workers' dispatcher (workers/webhooks.py)
claims due rows and records each attempt before and after the send.

Delivery is at least once, with one ``webhook-id`` per event. A claim leases its event for
the length of one send: a sender that dies mid-send leaves its attempt row unfinished, and
the event is sent once more when the lease runs out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import insert_missing
from app.outbound import AttemptResult
from app.tables import TERMINAL_STATUSES, Batch, Job, WebhookAttempt, WebhookEvent, utcnow

PENDING, DELIVERED, ABANDONED = "pending", "delivered", "abandoned"
BATCH_ENDED = ("completed", "canceled")


@dataclass(frozen=True)
class Claim:
    """One attempt at one event, leased to the sender that claimed it."""

    event_id: uuid.UUID
    attempt_id: uuid.UUID
    message_id: str
    event: str
    url: str
    attempt: int
    tenant_id: uuid.UUID
    job_id: uuid.UUID | None
    batch_id: uuid.UUID | None
    created_at: datetime


def record_job_events(session: Session, job_ids: Iterable[uuid.UUID]) -> None:
    """Add the event of every job of ``job_ids`` that has ended and has a webhook URL, in
    the caller's transaction (the caller commits). An event already recorded stays as it
    is: one per job and status."""
    ids = list(job_ids)
    if not ids:
        return
    rows = session.execute(
        select(Job.id, Job.tenant_id, Job.status, Job.webhook_url).where(
            Job.id.in_(ids), Job.webhook_url.is_not(None), Job.status.in_(TERMINAL_STATUSES)
        )
    )
    for job_id, tenant_id, status, url in rows.all():
        _add(session, f"msg_{job_id}_{status}", f"job.{status}", str(url), tenant_id, job_id=job_id)


def record_batch_event(session: Session, batch_id: uuid.UUID) -> None:
    """``record_job_events`` for a batch that completed or was canceled."""
    row = session.execute(
        select(Batch.tenant_id, Batch.status, Batch.webhook_url).where(
            Batch.id == batch_id, Batch.webhook_url.is_not(None), Batch.status.in_(BATCH_ENDED)
        )
    ).first()
    if row is not None:
        tenant_id, status, url = row
        _add(session, f"msg_{batch_id}_{status}", f"batch.{status}", str(url), tenant_id, batch_id)


def _add(
    session: Session,
    message_id: str,
    event: str,
    url: str,
    tenant_id: uuid.UUID,
    batch_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
) -> None:
    now = utcnow()
    values: dict[str, object] = {"tenant_id": tenant_id, "job_id": job_id, "batch_id": batch_id}
    values |= {"event": event, "url": url, "status": PENDING, "attempts": 0}
    values |= {"due_at": now, "created_at": now}
    insert_missing(session, WebhookEvent, {"message_id": message_id}, values)


def claim_next(session: Session, lease_seconds: float) -> Claim | None:
    """Claim the event due longest, lease it for ``lease_seconds`` and log its attempt as
    begun, and commit; None when nothing is due. Another dispatcher skips a claimed row."""
    now = utcnow()
    event = session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.status == PENDING, WebhookEvent.due_at <= now)
        .order_by(WebhookEvent.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if event is None:
        session.commit()
        return None
    event.attempts += 1
    event.due_at = now + timedelta(seconds=lease_seconds)
    attempt = WebhookAttempt(
        id=uuid.uuid4(),
        job_id=event.job_id,
        batch_id=event.batch_id,
        message_id=event.message_id,
        event=event.event.rsplit(".", 1)[-1],
        url=event.url,
        attempt=event.attempts,
        duration_ms=0,
        created_at=now,
    )
    session.add(attempt)
    claim = Claim(
        event.id,
        attempt.id,
        event.message_id,
        event.event,
        event.url,
        event.attempts,
        event.tenant_id,
        event.job_id,
        event.batch_id,
        event.created_at,
    )
    session.commit()
    return claim


def finish(session: Session, claim: Claim, result: AttemptResult, retry_in: float | None) -> None:
    """Log how the attempt ended; the event is delivered, due again in ``retry_in``
    seconds, or (None, not delivered) abandoned. Commits."""
    now = utcnow()
    session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.id == claim.attempt_id)
        .values(
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            finished_at=now,
        )
    )
    if result.delivered:
        values: dict[str, object] = {"status": DELIVERED}
    elif retry_in is None:
        values = {"status": ABANDONED}
    else:
        values = {"due_at": now + timedelta(seconds=retry_in)}
    session.execute(update(WebhookEvent).where(WebhookEvent.id == claim.event_id).values(values))
    session.commit()

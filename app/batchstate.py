"""The one writer of batch state: turning waiting items into jobs under the per-tenant cap,
closing, finishing and canceling batches. Every transition is a conditional write.

Scheduling policy. A batch item waits in the database (``pending``) until ``dispatch``
makes its job; a tenant has at most ``cap`` batch jobs queued or running at once, taken
from its batches oldest first, in submission order. The jobs run on the batch queues
(``app.queue.batch_queue``), which workers serve in turn with the interactive queues. A
tenant's batch thus holds a bounded share of the workers, and a single job never waits
behind more than a handful of batch tasks.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from app import jobstate, outbox
from app.jobsource import JobSource
from app.tables import Batch, BatchItem, Job, Tenant, utcnow

ACTIVE = ("open", "running")
IN_FLIGHT = ("queued", "running")


def in_flight(session: Session, tenant_id: uuid.UUID) -> int:
    """How many of the tenant's batch jobs are queued or running."""
    query = select(func.count(Job.id)).where(
        Job.tenant_id == tenant_id, Job.batch_id.is_not(None), Job.status.in_(IN_FLIGHT)
    )
    return int(session.scalar(query) or 0)


def dispatch(session: Session, tenant_id: uuid.UUID, cap: int) -> list[uuid.UUID]:
    """Make jobs for the tenant's oldest pending items while fewer than ``cap`` are in
    flight, and commit. Returns the new jobs' ids: the caller sends their start messages
    (a message lost in between is sent again by the reaper, like any job left queued)."""
    lock_tenant(session, tenant_id)
    free = cap - in_flight(session, tenant_id)
    created: list[uuid.UUID] = []
    active = select(Batch).where(Batch.tenant_id == tenant_id, Batch.status.in_(ACTIVE))
    for batch in session.scalars(active.order_by(Batch.created_at, Batch.id)).all():
        if len(created) >= free:
            break
        waiting = (
            select(BatchItem)
            .where(BatchItem.batch_id == batch.id, BatchItem.status == "pending")
            .order_by(BatchItem.seq)
            .limit(free - len(created))
        )
        for item in session.scalars(waiting).all():
            assert item.source is not None
            job = jobstate.create_job(
                session,
                batch.tenant_id,
                JobSource.from_json(item.source),
                batch_id=batch.id,
                webhook_url=batch.webhook_url if batch.job_webhooks else None,
                metadata=item.client_metadata,
            )
            session.flush()
            item.job_id, item.status = job.id, "queued"
            created.append(job.id)
    session.commit()
    return created


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Take the tenant's write lock until commit, so one dispatcher (or cancel) runs at a
    time per tenant and the cap holds. A no-op UPDATE: a row lock on PostgreSQL, the
    database write lock on SQLite (which has no SELECT ... FOR UPDATE)."""
    session.commit()  # start a fresh transaction whose first statement is the write
    session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(name=Tenant.name)
        .execution_options(synchronize_session=False)
    )


def remaining(session: Session, batch_id: uuid.UUID) -> bool:
    """True while an item of the batch waits for a job or its job is queued or running."""
    waiting = exists().where(BatchItem.batch_id == batch_id, BatchItem.status == "pending")
    busy = exists().where(Job.batch_id == batch_id, Job.status.in_(IN_FLIGHT))
    return bool(session.scalar(select(waiting | busy)))


def close(session: Session, batch_id: uuid.UUID) -> bool:
    """An open batch takes no more items; False when it was not open."""
    now = utcnow()
    result = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == "open")
        .values(status="running", closed_at=now, updated_at=now)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_if_done(session: Session, batch_id: uuid.UUID) -> bool:
    """Mark a closed batch completed once every item has ended, with its webhook event;
    True for the one caller that made the change. An open batch may still get items."""
    if remaining(session, batch_id):
        return False
    now = utcnow()
    result = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == "running")
        .values(status="completed", finished_at=now, updated_at=now)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        outbox.record_batch_event(session, batch_id)
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel(session: Session, batch: Batch) -> list[uuid.UUID] | None:
    """Cancel an open or running batch: waiting items never start, queued and running jobs
    are canceled (a running stage finishes, no further stage runs). Returns the canceled
    jobs' ids, or None when the batch had already ended."""
    lock_tenant(session, batch.tenant_id)  # no dispatch meanwhile
    now = utcnow()
    result = session.execute(
        update(Batch)
        .where(Batch.id == batch.id, Batch.status.in_(ACTIVE))
        .values(status="canceled", finished_at=now, updated_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        return None
    session.execute(
        update(BatchItem)
        .where(BatchItem.batch_id == batch.id, BatchItem.status == "pending")
        .values(status="canceled")
    )
    outbox.record_batch_event(session, batch.id)
    return jobstate.cancel_batch_jobs(session, batch.id)  # commits the batch's end with them


def tenants_with_work(session: Session) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, batch) of every open or running batch, oldest first: the sweep's to-do."""
    rows = session.execute(
        select(Batch.tenant_id, Batch.id).where(Batch.status.in_(ACTIVE)).order_by(Batch.created_at)
    )
    return [(tenant, batch) for tenant, batch in rows]

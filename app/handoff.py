"""The stage hand-off, as job state: heartbeats of running stages, stages due but not yet
published, and stages gone silent. Part of the job-state writer (app/jobstate.py); these
are the writes of the dispatcher (workers/dispatch.py).

A stage's output and the record "next stage due" are committed together; publishing the
next stage's message comes after and may fail (the broker is down). The dispatcher sends
again what is due and unsent, and makes a stage whose worker went silent due again, so a
job finishes though a message was lost, and exactly once, as stages drop duplicates.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.tables import Job, utcnow


def beat(session: Session, job_id: uuid.UUID, stage: str) -> bool:
    """Record that a worker still runs ``stage`` of the job; False once it is not running."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.stage == stage)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_dispatched(session: Session, job_id: uuid.UUID, stage: str) -> None:
    """The message of ``stage`` was handed to the broker (the caller commits)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.next_stage == stage)
        .values(dispatched_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def due_stages(
    session: Session, resend_after: int, grace: float = 5.0, limit: int = 500
) -> list[tuple[uuid.UUID, str]]:
    """Running jobs whose due stage was never published (``grace`` seconds after it fell
    due: the worker that finished the stage before publishes it itself), or was published
    ``resend_after`` seconds ago and has not started. The rows stay locked (another
    dispatcher skips them) until the caller commits."""
    now = utcnow()
    cutoff = now - timedelta(seconds=resend_after)
    query = (
        select(Job.id, Job.next_stage)
        .where(
            Job.status == "running",
            Job.next_stage.is_not(None),
            or_(
                and_(Job.dispatched_at.is_(None), Job.updated_at < now - timedelta(seconds=grace)),
                Job.dispatched_at < cutoff,
            ),
        )
        .order_by(Job.started_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(job_id, str(stage)) for job_id, stage in session.execute(query)]


def recover_silent(session: Session, silent_after: int) -> list[uuid.UUID]:
    """Make the stage of every running job whose worker wrote no heartbeat for
    ``silent_after`` seconds due again (the worker died, or its writes failed): the next
    dispatch publishes it, and its start counts as an attempt."""
    cutoff = utcnow() - timedelta(seconds=silent_after)
    silent = and_(
        Job.status == "running",
        Job.stage.is_not(None),
        Job.next_stage.is_(None),
        Job.heartbeat_at < cutoff,
    )
    ids = list(session.scalars(select(Job.id).where(silent).with_for_update(skip_locked=True)))
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), silent)
            .values(next_stage=Job.stage, dispatched_at=None, heartbeat_at=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return ids


def forget_published(session: Session) -> None:
    """Mark every due stage of a running job unsent, so that the next dispatch sends it again.
    For a broker that never redelivers (the embedded default's): a message a dead worker had
    taken is gone; if it was not, the duplicate is dropped when it arrives."""
    session.execute(
        update(Job)
        .where(Job.status == "running", Job.next_stage.is_not(None), Job.dispatched_at.is_not(None))
        .values(dispatched_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()

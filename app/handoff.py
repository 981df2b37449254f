"""The stage hand-off, as job state: which stages are due but not yet published, which went
silent, and which a broker lost; the rules of the stage publisher (workers/publisher.py). The
rows are written by the job-state module (app/jobstate.py), the one writer of job rows.

A stage's output and the record "next stage due" are committed together; publishing the
next stage's message comes after and may fail (the broker is down). The publisher sends
again what is due and unsent, and makes a stage whose worker went silent due again, so a
job finishes though a message was lost, and exactly once, as stages drop duplicates.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app import jobstate, liveness, workerbeats
from app.tables import Job, utcnow

# A job's due stage is published whether the job waits for its first stage or is between two.
IN_FLIGHT = ("queued", "running")


def due_stages(
    session: Session, resend_after: int, grace: float = 5.0, limit: int = 500
) -> list[tuple[uuid.UUID, str]]:
    """Unfinished jobs whose due stage (a queued job's first) was never published
    (``grace`` seconds after it fell due: whoever made it due publishes it itself), or was
    published ``resend_after`` seconds ago and has not started; started jobs first, oldest
    first. The rows stay locked (another publisher skips them) until the caller commits."""
    now = utcnow()
    cutoff = now - timedelta(seconds=resend_after)
    query = (
        select(Job.id, Job.next_stage)
        .where(
            Job.status.in_(IN_FLIGHT),
            Job.next_stage.is_not(None),
            or_(
                and_(Job.dispatched_at.is_(None), Job.updated_at < now - timedelta(seconds=grace)),
                Job.dispatched_at < cutoff,
            ),
        )
        .order_by(Job.started_at.asc().nulls_last(), Job.created_at)
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
    jobstate.make_due_again(session, ids, silent)
    return ids


def recover_orphaned(session: Session, silent_after: float | None) -> list[uuid.UUID]:
    """Make the stage of every running job whose owner is gone due again at once, without
    waiting for the heartbeat timeout (its start counts as an attempt). Gone: its process
    ran on this machine and exited (``app.liveness``: the worker or its pool child was
    killed), or the worker that forked it, wherever it ran, has not beaten for
    ``silent_after`` seconds (``app.workerbeats``; None: beats are not judged)."""
    in_stage = and_(
        Job.status == "running",
        Job.stage.is_not(None),
        Job.next_stage.is_(None),
        Job.heartbeat_at.is_not(None),
    )
    dead_workers = set() if silent_after is None else workerbeats.silent(session, silent_after)
    query = select(Job.id, Job.worker).where(in_stage).with_for_update(skip_locked=True)
    gone = [
        (job_id, owner)
        for job_id, owner in session.execute(query)
        if liveness.is_gone(owner) or liveness.parent_of(owner) in dead_workers
    ]
    for job_id, owner in gone:
        jobstate.make_due_again(session, [job_id], and_(in_stage, Job.worker == owner))
    session.commit()
    return [job_id for job_id, _ in gone]


def forget_published(session: Session) -> None:
    """Mark every due stage of an unfinished job unsent, so that the next dispatch sends it
    again. For a broker that never redelivers (the embedded default's): a message a dead
    worker had taken is gone; if it was not, the duplicate is dropped when it arrives."""
    jobstate.mark_unsent(
        session,
        and_(
            Job.status.in_(IN_FLIGHT), Job.next_stage.is_not(None), Job.dispatched_at.is_not(None)
        ),
    )

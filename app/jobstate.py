"""The one writer of job rows: creating a job (the API, batch dispatch and the inline run
alike), and every transition of it, from the API's cancel to the workers' start, stages,
hand-off (heartbeats, stages due and sent: the rules are in app/handoff.py), failure,
success and the reaper. Every transition is conditional, so a canceled job is never marked
succeeded or failed. A job is ``queued`` until its first stage begins, though that stage
may be due and published long before; then ``running`` until it ends.

``heartbeat_at`` is set while a stage runs and cleared while the job waits in a queue
between stages, so the reaper can tell a job whose worker vanished mid-stage from one that
is only waiting for a busy GPU queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from app import liveness, outbox
from app.db import upsert
from app.errors import Problem, WorkerLostError
from app.joboptions import JobOptions
from app.jobsource import JobSource
from app.tables import ANALYSIS, TERMINAL_STATUSES, Artifact, Job, StageResult, utcnow

# A job re-run more often than this has crashed its workers repeatedly: fail it for good.
MAX_STAGE_ATTEMPTS = 3


@dataclass(frozen=True)
class JobRef:
    """What a stage needs to know about its job, detached from any session."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    source: JobSource
    # None for a job submitted before options existed: the deployment's settings decide.
    options: JobOptions | None = None


class TooManyAttemptsError(Problem):
    """The same stage of a job started MAX_STAGE_ATTEMPTS times without finishing."""

    code, title, status = "too_many_attempts", "Processing kept crashing", 500


def create_job(
    session: Session,
    tenant_id: uuid.UUID,
    source: JobSource,
    *,
    job_id: uuid.UUID | None = None,
    pipeline: str = ANALYSIS,
    batch_id: uuid.UUID | None = None,
    webhook_url: str | None = None,
    metadata: dict[str, Any] | None = None,
    options: JobOptions | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> Job:
    """A new queued job, added to ``session``: the one way a job is made. The caller commits
    it with the rows that belong to it, and only then sends its start message (the worker
    must find the row)."""
    job = Job(
        id=job_id or uuid.uuid4(),
        tenant_id=tenant_id,
        batch_id=batch_id,
        pipeline=pipeline,
        status="queued",
        progress=0.0,
        source=source.to_json(),
        webhook_url=webhook_url,
        client_metadata=metadata,
        options=None if options is None else options.to_json(),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        attempts=0,
        created_at=utcnow(),
    )
    session.add(job)
    return job


def delete_job(session: Session, job_id: uuid.UUID) -> None:
    """Remove a job's row, and by cascade its stage outputs and artifacts, and commit: a job
    whose start message could not be sent, or a deleted reference's."""
    session.execute(delete(Job).where(Job.id == job_id))
    session.commit()


def begin_stage(
    session: Session,
    job_id: uuid.UUID,
    stage: str,
    progress: float,
    count_attempt: bool = True,
    silent_after: int = 120,
) -> JobRef | None:
    """Mark ``stage`` running (a queued job turns ``running`` here, as its first stage
    begins); None when its message must be dropped: the job is gone, finished or canceled,
    or the message is a duplicate (see ``_message_is_current``).

    ``attempts`` counts starts of the current stage: a message sent again after a crash
    starts it again, and a message that keeps killing workers is stopped here. A retry
    after a transient error (``count_attempt`` False) is not a crash.
    """
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status in TERMINAL_STATUSES:
        return None
    if not _message_is_current(session, job, stage, silent_after, retry=not count_attempt):
        session.commit()
        return None
    if job.stage != stage:
        job.attempts = 0
    job.attempts += int(count_attempt)
    if job.attempts > MAX_STAGE_ATTEMPTS:
        session.commit()
        raise TooManyAttemptsError(
            f"stage {stage} started {MAX_STAGE_ATTEMPTS} times without finishing"
        )
    now = utcnow()
    job.status, job.stage, job.progress = "running", stage, progress
    job.heartbeat_at, job.worker = now, liveness.owner_identity()
    job.next_stage, job.dispatched_at = None, None  # the hand-off is acknowledged
    job.started_at = job.started_at or now
    session.commit()
    options = None if job.options is None else JobOptions.from_json(job.options)
    return JobRef(job.id, job.tenant_id, JobSource.from_json(job.source), options)


def _message_is_current(
    session: Session, job: Job, stage: str, silent_after: int, retry: bool
) -> bool:
    """A stage message runs when its stage is the one due; or when it is the stage the job
    is in, unfinished, and either this is the worker's own retry after a transient error,
    or no worker has written a heartbeat for ``silent_after`` seconds, or the process that
    ran it is gone (``app.liveness``: a message redelivered after its worker died, run at
    once). Anything else is a duplicate: the job has moved on, or a live worker runs that
    stage now."""
    if job.next_stage == stage:
        return True
    if job.stage != stage or has_stage_output(session, job.id, stage):
        return False
    if retry:
        return True
    cutoff = utcnow() - timedelta(seconds=silent_after)
    alive = session.scalar(select(Job.id).where(Job.id == job.id, Job.heartbeat_at >= cutoff))
    return alive is None or liveness.is_gone(job.worker)


def has_stage_output(session: Session, job_id: uuid.UUID, stage: str) -> bool:
    row = session.scalar(
        select(StageResult.id).where(StageResult.job_id == job_id, StageResult.stage == stage)
    )
    return row is not None


def stage_outputs(
    session: Session, job_id: uuid.UUID, stages: list[str]
) -> dict[str, dict[str, Any]]:
    rows = session.scalars(
        select(StageResult).where(StageResult.job_id == job_id, StageResult.stage.in_(stages))
    )
    return {row.stage: dict(row.output) for row in rows}


def save_stage_output(
    session: Session,
    job_id: uuid.UUID,
    stage: str,
    output: dict[str, Any],
    next_stage: str | None = None,
    commit: bool = True,
    progress: float | None = None,
) -> None:
    """Insert or replace the stage's output (one row even if two workers race) and, in the
    same transaction, record ``next_stage`` as due: a hand-off that no broker outage can
    lose (workers/publisher.py publishes what is due and not yet sent). ``commit`` False:
    the caller ends the transaction (the last stage's output commits with the job's end)."""
    upsert(
        session,
        StageResult,
        {"job_id": job_id, "stage": stage},
        {"output": output, "created_at": utcnow()},
    )
    make_next_due(session, job_id, stage, next_stage, commit, progress)


def make_next_due(
    session: Session,
    job_id: uuid.UUID,
    stage: str,
    next_stage: str | None,
    commit: bool = True,
    progress: float | None = None,
) -> None:
    """``stage`` is done: the job, at ``progress`` (None: unchanged), waits for
    ``next_stage`` (None: it was the last one). A job canceled while the stage ran gets no
    next stage, but its heartbeat is cleared too: no stage of it runs any more."""
    values: dict[str, Any] = {"heartbeat_at": None, "updated_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    if next_stage is not None:
        values |= {"next_stage": next_stage, "dispatched_at": None}
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.stage == stage)
        .values(**values)
    )
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status != "running", Job.heartbeat_at.is_not(None))
        .values(heartbeat_at=None)
    )
    if commit:
        session.commit()


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


def make_due_again(session: Session, job_ids: list[uuid.UUID], still: ColumnElement[bool]) -> None:
    """Make the current stage of each job in ``job_ids`` that still matches ``still`` due
    again (unsent, heartbeat cleared), and commit."""
    if job_ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), still)
            .values(next_stage=Job.stage, dispatched_at=None, heartbeat_at=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def mark_unsent(session: Session, due: ColumnElement[bool]) -> None:
    """Mark the due stage of every job matching ``due`` unsent, and commit."""
    session.execute(
        update(Job)
        .where(due)
        .values(dispatched_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def record_artifact(
    session: Session, job_id: uuid.UUID, name: str, key: str, content_type: str, size: int
) -> None:
    """One row per (job, name); storage keys are deterministic so a re-run overwrites."""
    upsert(
        session,
        Artifact,
        {"job_id": job_id, "name": name},
        {"key": key, "content_type": content_type, "size_bytes": size, "created_at": utcnow()},
    )
    session.commit()


def start_job(session: Session, job_id: uuid.UUID, first_stage: str) -> bool:
    """Make a queued job's ``first_stage`` due; True when the caller should publish it. The
    job stays ``queued`` until that stage begins (``begin_stage``): its message may wait
    behind many others. A job whose first stage is already due is left to the publisher
    (a duplicate start message changes nothing)."""
    now = utcnow()
    launchable = and_(Job.status == "queued", Job.next_stage.is_(None))
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, launchable)
        .values(heartbeat_at=None, next_stage=first_stage, dispatched_at=None, updated_at=now)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_job(session: Session, job_id: uuid.UUID) -> bool:
    """Mark a queued or running job canceled, with its webhook event; workers stop at the
    next stage boundary. False when the job had already finished (a worker finishing at
    this instant wins)."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("queued", "running")))
        .values(status="canceled", finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        outbox.record_job_events(session, [job_id])
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_batch_jobs(session: Session, batch_id: uuid.UUID) -> list[uuid.UUID]:
    """Cancel every queued or running job of a batch, as ``cancel_job`` does one, and
    commit; returns their ids."""
    now = utcnow()
    live = and_(Job.batch_id == batch_id, Job.status.in_(("queued", "running")))
    ids = list(session.scalars(select(Job.id).where(live)))
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), live)
            .values(status="canceled", finished_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        outbox.record_job_events(session, ids)
    session.commit()
    return ids


def fail_job(session: Session, job_id: uuid.UUID, problem: dict[str, Any]) -> bool:
    """Mark a running or queued job failed, with its webhook event; a canceled job stays
    canceled."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("queued", "running")))
        .values(status="failed", error=problem, heartbeat_at=None, finished_at=now, updated_at=now)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        outbox.record_job_events(session, [job_id])
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def succeed_job(session: Session, job_id: uuid.UUID, report: dict[str, Any]) -> bool:
    """Mark the job succeeded only if it is still running (a canceled job never succeeds),
    with its webhook event, and commit: with the last stage's output when the caller left
    it uncommitted."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(
            status="succeeded",
            result=report,
            progress=1.0,
            stage=None,
            heartbeat_at=None,
            finished_at=now,
            updated_at=now,
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        outbox.record_job_events(session, [job_id])
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def reap_stale_jobs(
    session: Session, in_stage_seconds: int, waiting_seconds: int
) -> list[uuid.UUID]:
    """Fail running jobs whose worker went silent mid-stage for ``in_stage_seconds`` (longer
    than a stage may take plus redelivery), and jobs whose due stage (the first one of a
    queued job) waited ``waiting_seconds`` (their message was lost). Returns the failed
    jobs' ids."""
    now = utcnow()
    waited = Job.updated_at < now - timedelta(seconds=waiting_seconds)
    stale = or_(
        and_(Job.status == "running", Job.heartbeat_at < now - timedelta(seconds=in_stage_seconds)),
        and_(Job.status == "running", Job.heartbeat_at.is_(None), waited),
        and_(Job.status == "queued", Job.next_stage.is_not(None), waited),
    )
    ids = list(session.scalars(select(Job.id).where(stale)))
    if ids:
        problem = WorkerLostError(
            "no worker finished this job's stage in time; it was stopped so it cannot hang"
        ).problem()
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), stale)
            .values(
                status="failed", error=problem, heartbeat_at=None, finished_at=now, updated_at=now
            )
        )
        outbox.record_job_events(session, ids)
        session.commit()
    return ids


def queued_too_long(session: Session, seconds: int) -> list[uuid.UUID]:
    """Claim queued jobs not yet started (no stage due) and untouched for ``seconds``: their
    start message may never have arrived (a due first stage is the publisher's to resend).
    Claiming touches ``updated_at``, so each is sent again at most once a period."""
    now = utcnow()
    stuck = and_(
        Job.status == "queued",
        Job.next_stage.is_(None),
        Job.updated_at < now - timedelta(seconds=seconds),
    )
    ids = list(session.scalars(select(Job.id).where(stuck)))
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids), stuck).values(updated_at=now))
        session.commit()
    return ids

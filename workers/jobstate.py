"""Job state in PostgreSQL as the stages move a job along; every write is conditional."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.errors import Problem
from app.models import TERMINAL_STATUSES, Artifact, Job, StageResult, utcnow

# A job re-run more often than this has crashed its workers repeatedly: fail it for good.
MAX_STAGE_ATTEMPTS = 3


@dataclass(frozen=True)
class JobRef:
    """What a stage needs to know about its job, detached from any session."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    source: dict[str, Any]


class TooManyAttemptsError(Problem):
    """The same stage of a job started MAX_STAGE_ATTEMPTS times without finishing."""

    code, title, status = "too_many_attempts", "Processing kept crashing", 500


def begin_stage(session: Session, job_id: uuid.UUID, stage: str, progress: float) -> JobRef | None:
    """Mark ``stage`` running; None when the job is gone, finished or canceled.

    ``attempts`` counts starts of the current stage: a redelivered message after a crash
    starts it again, and a message that keeps killing workers is stopped here.
    """
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status in TERMINAL_STATUSES:
        return None
    job.attempts = job.attempts + 1 if job.stage == stage else 1
    if job.attempts > MAX_STAGE_ATTEMPTS:
        session.commit()
        raise TooManyAttemptsError(f"stage {stage} started {MAX_STAGE_ATTEMPTS} times without finishing")
    now = utcnow()
    job.status, job.stage, job.progress = "running", stage, progress
    job.heartbeat_at, job.worker = now, socket.gethostname()
    job.started_at = job.started_at or now
    session.commit()
    return JobRef(id=job.id, tenant_id=job.tenant_id, source=dict(job.source))



def stage_output(session: Session, job_id: uuid.UUID, stage: str) -> dict[str, Any] | None:
    row = session.scalar(select(StageResult).where(
        StageResult.job_id == job_id, StageResult.stage == stage))
    return None if row is None else dict(row.output)


def stage_outputs(session: Session, job_id: uuid.UUID, stages: list[str]) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(StageResult).where(
        StageResult.job_id == job_id, StageResult.stage.in_(stages)))
    return {row.stage: dict(row.output) for row in rows}


def save_stage_output(session: Session, job_id: uuid.UUID, stage: str,
                      output: dict[str, Any]) -> None:
    """Insert or replace the stage's output: a re-run never leaves a second row."""
    row = session.scalar(select(StageResult).where(
        StageResult.job_id == job_id, StageResult.stage == stage))
    if row is None:
        session.add(StageResult(job_id=job_id, stage=stage, output=output))
    else:
        row.output = output
    session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow()))
    session.commit()


def record_artifact(session: Session, job_id: uuid.UUID, name: str, key: str,
                    content_type: str, size: int) -> None:
    """One row per (job, name); storage keys are deterministic so a re-run overwrites."""
    row = session.scalar(select(Artifact).where(Artifact.job_id == job_id, Artifact.name == name))
    if row is None:
        session.add(Artifact(job_id=job_id, name=name, key=key, content_type=content_type,
                             size_bytes=size))
    else:
        row.key, row.content_type, row.size_bytes = key, content_type, size
    session.commit()


def fail_job(session: Session, job_id: uuid.UUID, problem: dict[str, Any]) -> bool:
    """Mark a running or queued job failed; a canceled job stays canceled."""
    now = utcnow()
    result = session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_(("queued", "running")))
        .values(status="failed", error=problem, finished_at=now, updated_at=now))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def succeed_job(session: Session, job_id: uuid.UUID, report: dict[str, Any]) -> bool:
    """Mark the job succeeded only if it is still running: a canceled job never succeeds."""
    now = utcnow()
    result = session.execute(
        update(Job).where(Job.id == job_id, Job.status == "running")
        .values(status="succeeded", result=report, progress=1.0, stage=None,
                finished_at=now, updated_at=now))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def reap_stale_jobs(session: Session, stale_after_seconds: int) -> int:
    """Fail running jobs whose worker went silent longer than any stage may take."""
    cutoff = utcnow() - timedelta(seconds=stale_after_seconds)
    problem = {"type": "https://soundscape.dev/problems/worker-lost", "title": "Worker lost",
               "status": 500, "code": "worker_lost",
               "detail": f"no worker reported on this job for {stale_after_seconds} s"}
    now = utcnow()
    result = session.execute(
        update(Job).where(Job.status == "running", Job.heartbeat_at < cutoff)
        .values(status="failed", error=problem, finished_at=now, updated_at=now))
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def artifact_key(session: Session, job_id: uuid.UUID, name: str) -> str:
    key = session.scalar(select(Artifact.key).where(Artifact.job_id == job_id,
                                                    Artifact.name == name))
    if key is None:
        raise LookupError(f"job {job_id} has no artifact {name}")
    return key

"""Job service: create, read, list and cancel jobs for one tenant."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import jobstate
from app.config import Settings
from app.errors import (
    ConflictError,
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    QueueUnavailableError,
    TooLargeError,
)
from app.formats import SNIFF_BYTES, sniff_format
from app.joboptions import JobOptions
from app.jobsource import JobSource
from app.outbound import check_url_source
from app.queue import enqueue_batch_advance, enqueue_job
from app.services.paging import Keyset, check_limit, page
from app.storage import Storage, job_key
from app.tables import ANALYSIS, JOB_STATUSES, TERMINAL_STATUSES, Job

MAX_PAGE = 100
NEWEST_JOB_FIRST = Keyset(Job.created_at, datetime.fromisoformat, descending=True)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewJob:
    """What a client asked for, validated: exactly one of upload / url / s3_key is set."""

    source: JobSource
    webhook_url: str | None
    metadata: dict[str, Any] | None
    idempotency_key: str | None
    request_hash: str
    # None: the deployment's defaults (app.joboptions.deployment_options), fixed at submit.
    options: JobOptions | None = None
    # A reference enrolment (app.services.artists) names its pipeline and its job id ahead.
    pipeline: str = ANALYSIS
    job_id: uuid.UUID | None = None


def find_replay(session: Session, tenant_id: uuid.UUID, new: NewJob) -> Job | None:
    """The job a repeated request (same Idempotency-Key) created, or None for a new request."""
    if not new.idempotency_key:
        return None
    job = session.scalar(
        select(Job).where(Job.tenant_id == tenant_id, Job.idempotency_key == new.idempotency_key)
    )
    if job is not None and job.request_hash != new.request_hash:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request body"
        )
    return job


def submit_upload(
    session: Session,
    settings: Settings,
    storage: Storage,
    tenant_id: uuid.UUID,
    new: NewJob,
    stream: IO[bytes],
) -> Job:
    """Store an uploaded file as the job's source and queue the job."""
    size = stream.seek(0, 2)
    if size > settings.max_upload_bytes:
        raise TooLargeError(f"the file is {size} bytes; the limit is {settings.max_upload_bytes}")
    stream.seek(0)
    sniff_format(stream.read(SNIFF_BYTES))
    stream.seek(0)
    job_id = new.job_id or uuid.uuid4()
    key = job_key(tenant_id, job_id, "source")
    storage.put_stream(key, stream, "application/octet-stream")
    source = JobSource.upload(new.source.filename or "upload", key)
    job = _new_job(session, tenant_id, new, source, job_id)
    return _queue(session, settings, storage, job, new, stored=key)


def submit_remote(
    session: Session, settings: Settings, storage: Storage, tenant_id: uuid.UUID, new: NewJob
) -> Job:
    """Queue a job whose source is a URL or an object already in storage."""
    if new.source.url is not None:
        check_url_source(new.source.url, settings.allow_private_urls)
    else:
        assert new.source.key is not None
        check_s3_source(storage, tenant_id, new.source.key, settings.max_upload_bytes)
    job = _new_job(session, tenant_id, new, new.source, new.job_id)
    return _queue(session, settings, storage, job, new, stored=None)


def _new_job(
    session: Session,
    tenant_id: uuid.UUID,
    new: NewJob,
    source: JobSource,
    job_id: uuid.UUID | None,
) -> Job:
    return jobstate.create_job(
        session,
        tenant_id,
        source,
        job_id=job_id,
        pipeline=new.pipeline,
        webhook_url=new.webhook_url,
        metadata=new.metadata,
        options=new.options,
        idempotency_key=new.idempotency_key,
        request_hash=new.request_hash,
    )


def _queue(
    session: Session,
    settings: Settings,
    storage: Storage,
    job: Job,
    new: NewJob,
    stored: str | None,
) -> Job:
    """Commit the job, then send it; on failure remove what was stored for it."""
    try:
        session.commit()  # the worker must find the row before it receives the message
    except IntegrityError:
        # The same Idempotency-Key arrived twice at once and the other request won.
        session.rollback()
        _discard(storage, stored)
        replay = find_replay(session, job.tenant_id, new)
        if replay is None:
            raise
        return replay
    except Exception:
        session.rollback()
        _discard(storage, stored)  # nothing stays in storage without its row
        raise
    try:
        enqueue_job(settings, str(job.id))
    except (KombuOperationalError, OSError) as exc:
        jobstate.delete_job(session, job.id)
        _discard(storage, stored)
        raise QueueUnavailableError(
            "the job queue cannot be reached; nothing was kept, send the request again"
        ) from exc
    return job


def _discard(storage: Storage, key: str | None) -> None:
    """Best effort: what cannot be deleted now is deleted by the orphan sweep within hours."""
    if key is None:
        return
    try:
        storage.delete(key)
    except Exception:  # noqa: BLE001 - the original failure is what the client must hear
        log.warning("could not delete %s now; the orphan sweep will", key, exc_info=True)


def check_s3_source(storage: Storage, tenant_id: uuid.UUID, key: str, max_bytes: int) -> None:
    """A tenant may only scan objects under its own ``tenants/{id}/`` prefix."""
    if not key.startswith(f"tenants/{tenant_id}/") or ".." in key.split("/"):
        raise NotFoundError(f"no object {key} for this tenant")
    size = storage.size(key)
    if size is None:
        raise NotFoundError(f"no object {key} for this tenant")
    if size > max_bytes:
        raise TooLargeError(f"the object is {size} bytes; the limit is {max_bytes}")
    sniff_format(storage.head_bytes(key, SNIFF_BYTES))


def get_job(session: Session, tenant_id: uuid.UUID, job_id: str) -> Job:
    """The tenant's job; another tenant's job is indistinguishable from a missing one."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise NotFoundError(f"no job {job_id}") from None
    job = session.get(Job, parsed)
    if job is None or job.tenant_id != tenant_id:
        raise NotFoundError(f"no job {job_id}")
    return job


def list_jobs(
    session: Session, tenant_id: uuid.UUID, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Job], str | None]:
    """Newest first; ``cursor`` continues after the last job of the previous page."""
    if status is not None and status not in JOB_STATUSES:
        raise InvalidRequestError(f"status must be one of {', '.join(JOB_STATUSES)}")
    check_limit(limit, MAX_PAGE)
    query = select(Job).where(Job.tenant_id == tenant_id, Job.pipeline == ANALYSIS)
    if status:
        query = query.where(Job.status == status)
    return page(session, query, NEWEST_JOB_FIRST, limit, cursor)


def cancel_job(session: Session, settings: Settings, tenant_id: uuid.UUID, job_id: str) -> Job:
    """Mark a queued or running job canceled (its webhook goes out through the outbox);
    workers stop at the next stage boundary."""
    job = get_job(session, tenant_id, job_id)
    if job.status == "canceled":
        return job
    if job.status in TERMINAL_STATUSES:
        raise ConflictError(f"job {job_id} already {job.status}; it can no longer be canceled")
    canceled = jobstate.cancel_job(session, job.id)
    session.refresh(job)
    if not canceled and job.status != "canceled":
        raise ConflictError(f"job {job_id} already {job.status}; it can no longer be canceled")
    if canceled and job.batch_id is not None:
        _advance_after_cancel(settings, tenant_id, job.batch_id)
    return job


def _advance_after_cancel(settings: Settings, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> None:
    """The cancel is saved, and the database is the truth: a broker that cannot be reached
    now does not undo it or turn the answer into an error (the batch sweep advances a
    batch whose message was lost)."""
    try:
        enqueue_batch_advance(settings, str(tenant_id), str(batch_id))
    except (KombuOperationalError, OSError):
        log.warning("broker unreachable after a cancel: batch %s not advanced now", batch_id)


def request_hash(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

"""Artist service: a tenant's gallery of artists and their reference recordings.

A reference is enrolled by a job of the reference pipeline (ingest, separate, enroll): the
job is created and queued exactly as an analysis job is (app.services.jobs), with a row in
``artist_references`` committed in the same transaction, so the worker always finds it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import jobstate
from app.config import Settings
from app.errors import (
    ConflictError,
    DuplicateReferenceError,
    InvalidRequestError,
    NotFoundError,
    QueueUnavailableError,
)
from app.hashing import sha256_stream
from app.jobsource import JobSource
from app.services import jobs
from app.services.paging import Keyset, check_limit, page
from app.services.voiceprints import bump_version, refresh_voiceprint
from app.storage import Storage
from app.tables import REFERENCE, Artifact, Artist, ArtistReference, Job

MAX_PAGE = 100
MAX_NAME = 200
BY_NAME = Keyset(Artist.name, str, descending=False)


@dataclass(frozen=True)
class ArtistView:
    """An artist with its counts of enrolled and pending references."""

    artist: Artist
    references: int
    pending: int


def create_artist(
    session: Session, tenant_id: uuid.UUID, name: Any, external_id: Any = None
) -> Artist:
    """A new artist; 409 when the tenant already has one of that name or external id."""
    name = _text(name, "name", required=True)
    external_id = _text(external_id, "external_id", required=False)
    artist = Artist(id=uuid.uuid4(), tenant_id=tenant_id, name=name, external_id=external_id)
    session.add(artist)
    try:
        artist.revision = bump_version(session, tenant_id)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            f"an artist named {name!r} or with external_id {external_id!r} already exists"
        ) from None
    return artist


def _text(value: Any, field: str, required: bool) -> Any:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME:
        raise InvalidRequestError(f"{field} must be a non-empty string of at most {MAX_NAME}")
    return value.strip()


def get_artist(session: Session, tenant_id: uuid.UUID, artist_id: str) -> Artist:
    """The tenant's artist; another tenant's is indistinguishable from a missing one."""
    try:
        parsed = uuid.UUID(artist_id)
    except ValueError:
        raise NotFoundError(f"no artist {artist_id}") from None
    artist = session.get(Artist, parsed)
    if artist is None or artist.tenant_id != tenant_id:
        raise NotFoundError(f"no artist {artist_id}")
    return artist


def find_artist(session: Session, tenant_id: uuid.UUID, name: str) -> Artist | None:
    return session.scalar(select(Artist).where(Artist.tenant_id == tenant_id, Artist.name == name))


def view(session: Session, artist: Artist) -> ArtistView:
    return _views(session, [artist])[0]


def list_artists(
    session: Session, tenant_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ArtistView], str | None]:
    """By name; ``cursor`` continues after the last artist of the previous page."""
    check_limit(limit, MAX_PAGE)
    query = select(Artist).where(Artist.tenant_id == tenant_id)
    rows, following = page(session, query, BY_NAME, limit, cursor)
    return _views(session, rows), following


def _views(session: Session, artists: list[Artist]) -> list[ArtistView]:
    """Each artist with its reference counts, in one grouped query."""
    enrolled = ArtistReference.embedding.is_not(None)
    counts = session.execute(
        select(ArtistReference.artist_id, enrolled.label("ready"), func.count())
        .where(ArtistReference.artist_id.in_([a.id for a in artists]))
        .group_by(ArtistReference.artist_id, enrolled)
    ).all()
    ready = {row[0]: row[2] for row in counts if row[1]}
    other = {row[0]: row[2] for row in counts if not row[1]}
    return [ArtistView(a, ready.get(a.id, 0), other.get(a.id, 0)) for a in artists]


def references(session: Session, artist: Artist) -> list[tuple[ArtistReference, Job | None]]:
    """The artist's references (oldest first) with their jobs."""
    rows = session.execute(
        select(ArtistReference, Job)
        .outerjoin(Job, Job.id == ArtistReference.job_id)
        .where(ArtistReference.artist_id == artist.id)
        .order_by(ArtistReference.created_at, ArtistReference.id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def add_reference(
    session: Session,
    settings: Settings,
    storage: Storage,
    artist: Artist,
    source: JobSource,
    upload: IO[bytes] | None = None,
) -> tuple[ArtistReference, Job]:
    """Queue the enrolment of a reference recording: an upload (``upload`` holds its bytes)
    or a URL / object-in-storage ``source``. An upload whose content the artist already has
    is refused at once (409 duplicate_reference); a remote one is checked once ingested."""
    sha256 = None
    if upload is not None:
        sha256 = sha256_stream(upload)
        _refuse_duplicate(session, artist, sha256)
    job_id = uuid.uuid4()
    reference = ArtistReference(
        id=uuid.uuid4(), artist_id=artist.id, tenant_id=artist.tenant_id, job_id=job_id
    )
    reference.sha256 = sha256
    session.add(reference)  # committed with the job, before the job is sent
    new = jobs.NewJob(
        source=source,
        webhook_url=None,
        metadata={"artist_id": str(artist.id), "reference_id": str(reference.id)},
        idempotency_key=None,
        request_hash="",
        pipeline=REFERENCE,
        job_id=job_id,
    )
    try:
        if upload is not None:
            job = jobs.submit_upload(session, settings, storage, artist.tenant_id, new, upload)
        else:
            job = jobs.submit_remote(session, settings, storage, artist.tenant_id, new)
    except QueueUnavailableError:
        # The job was removed; its reference must not linger as a failed enrolment.
        session.execute(delete(ArtistReference).where(ArtistReference.id == reference.id))
        session.commit()
        raise
    return reference, job


def _refuse_duplicate(session: Session, artist: Artist, sha256: str) -> None:
    existing = duplicate_of(session, artist, sha256)
    if existing is not None:
        raise DuplicateReferenceError(
            f"artist {artist.name!r} already has this recording (reference {existing})"
        )


def duplicate_of(session: Session, artist: Artist, sha256: str) -> uuid.UUID | None:
    """The reference of ``artist`` with content ``sha256`` that is enrolled, or being
    enrolled: such a recording is not taken twice (one that failed may be sent again)."""
    return session.scalar(
        select(ArtistReference.id)
        .outerjoin(Job, Job.id == ArtistReference.job_id)
        .where(
            ArtistReference.artist_id == artist.id,
            ArtistReference.sha256 == sha256,
            or_(ArtistReference.embedding.is_not(None), Job.status.in_(("queued", "running"))),
        )
    )


def get_reference(session: Session, artist: Artist, reference_id: str) -> ArtistReference:
    try:
        parsed = uuid.UUID(reference_id)
    except ValueError:
        raise NotFoundError(f"no reference {reference_id}") from None
    reference = session.get(ArtistReference, parsed)
    if reference is None or reference.artist_id != artist.id:
        raise NotFoundError(f"artist {artist.id} has no reference {reference_id}")
    return reference


def reference_job(session: Session, reference: ArtistReference) -> Job | None:
    return session.get(Job, reference.job_id) if reference.job_id else None


def delete_reference(session: Session, storage: Storage, reference: ArtistReference) -> None:
    """Remove a reference, its job and stored audio; the artist's voiceprint is recomputed
    from the references left (a job still running is canceled first)."""
    artist = session.get(Artist, reference.artist_id, with_for_update=True)
    job_ids = [reference.job_id] if reference.job_id else []
    session.delete(reference)
    session.flush()
    if artist is not None:
        refresh_voiceprint(session, artist)
    session.commit()
    _purge_jobs(session, storage, job_ids)


def delete_artist(session: Session, storage: Storage, artist: Artist) -> None:
    """Remove an artist, its references, their jobs and stored audio."""
    job_ids = list(
        session.scalars(
            select(ArtistReference.job_id).where(
                ArtistReference.artist_id == artist.id, ArtistReference.job_id.is_not(None)
            )
        )
    )
    tenant_id = artist.tenant_id
    session.delete(artist)
    session.flush()
    bump_version(session, tenant_id)
    session.commit()
    _purge_jobs(session, storage, [j for j in job_ids if j is not None])


def _purge_jobs(session: Session, storage: Storage, job_ids: list[uuid.UUID]) -> None:
    """Cancel the reference jobs (a worker stops at its next stage), then delete their rows
    and every object they stored: a deleted reference leaves no audio behind."""
    for job_id in job_ids:
        jobstate.cancel_job(session, job_id)
        job = session.get(Job, job_id)
        if job is None:
            continue
        keys = set(session.scalars(select(Artifact.key).where(Artifact.job_id == job_id)))
        source_key = JobSource.from_json(job.source).key
        if source_key and job.source.get("kind") == "upload":
            keys.add(source_key)
        jobstate.delete_job(session, job_id)
        for key in keys:
            storage.delete(key)

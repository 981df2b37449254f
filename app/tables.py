"""SQLAlchemy 2 typed models: tenants, API keys, jobs, tracks, stage results, artifacts,
batches and the artist gallery."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonType = JSON().with_variant(JSONB(), "postgresql")
# A voice embedding: a float4 array on PostgreSQL, a JSON list on SQLite (the embedded default).
EmbeddingType = JSON().with_variant(ARRAY(REAL()), "postgresql")

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
# What a job runs: the analysis of a track, or the enrolment of an artist's reference recording.
ANALYSIS, REFERENCE = "analysis", "reference"
BATCH_STATUSES = ("open", "running", "completed", "canceled")
# An item is `pending` until a job is made for it, then shows its job's status.
ITEM_STATUSES = ("pending", *JOB_STATUSES)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonType}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Signs this tenant's webhooks (Standard Webhooks: "whsec_" + base64 of 32 random bytes).
    webhook_secret: Mapped[str] = mapped_column(String(64), default=new_webhook_secret)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """An API key is stored only as its sha256; ``prefix`` identifies it in listings."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Submissions in the current rate-limit window (fixed windows, see app/api/ratelimit.py).
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        # GET /v1/jobs: one tenant's jobs, newest first, continued by (created_at, id).
        Index("ix_jobs_tenant_created", "tenant_id", "created_at", "id"),
        # A batch's items in flight, and a tenant's (app/batchstate.py).
        Index("ix_jobs_batch_status", "batch_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    source: Mapped[dict[str, Any]]
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    client_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JsonType)
    # app.joboptions.JobOptions as resolved at submission; NULL for jobs older than options.
    options: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pipeline: Mapped[str] = mapped_column(String(16), default=ANALYSIS, server_default=ANALYSIS)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL")
    )
    # The stage hand-off: the stage whose message is due (written with the previous stage's
    # output) and when it was last published; cleared when that stage's message arrives.
    next_stage: Mapped[str | None] = mapped_column(String(32))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Track(Base):
    """The decoded audio of a job: one row per job, written by ingest."""

    __tablename__ = "tracks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    container: Mapped[str] = mapped_column(String(32))
    codec: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    peak_dbfs: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StageResult(Base):
    """What one stage produced for one job (JSON), and the models it used."""

    __tablename__ = "stage_results"
    __table_args__ = (UniqueConstraint("job_id", "stage"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(32))
    output: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Artifact(Base):
    """An object in storage that belongs to a job (source, canonical audio, stems, plots)."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookAttempt(Base):
    """One delivery attempt of a job's (or a batch's) webhook: every try is kept."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Written before the send (NULL: in flight, or the sender died) and after it.
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEvent(Base):
    """The outbox: one webhook to send, written with the state change that causes it (a job
    or batch ended) and delivered by the workers' dispatcher (app/outbox.py)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_due", "status", "due_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The Standard Webhooks id: one per event, the same on every attempt.
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(32))  # job.succeeded, batch.completed ...
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # delivered, abandoned
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerBeat(Base):
    """A live worker process (app/workerbeats.py): its publisher thread touches ``seen_at``
    every dispatch interval; a row gone silent is a worker that died (``/metrics``)."""

    __tablename__ = "worker_beats"

    identity: Mapped[str] = mapped_column(String(255), primary_key=True)  # app.liveness
    queues: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Artist(Base):
    """A voice in a tenant's gallery. ``voiceprint`` is the normalised mean of its ready
    references' embeddings (None until one is ready); ``revision`` is the gallery version at
    which it last changed, so a worker's cached gallery reloads only what changed."""

    __tablename__ = "artists"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_artists_tenant_revision", "tenant_id", "revision"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    voiceprint: Mapped[list[float] | None] = mapped_column(EmbeddingType)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ArtistReference(Base):
    """One reference recording of an artist, enrolled by a job of the reference pipeline.
    ``embedding`` is set when the job succeeds; ``sha256`` (of the original bytes) is known at
    upload, or once ingest has read a URL or S3 source."""

    __tablename__ = "artist_references"
    __table_args__ = (Index("ix_artist_references_artist_sha256", "artist_id", "sha256"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    artist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    sha256: Mapped[str | None] = mapped_column(String(64))
    embedding: Mapped[list[float] | None] = mapped_column(EmbeddingType)
    vocal_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Tells the unit of work to insert the job first when both are added in one commit.
    job: Mapped[Job | None] = relationship(passive_deletes=True)


class ArtistGallery(Base):
    """A tenant's gallery version: raised by every change to its voiceprints, so a worker
    knows with one read whether its cached gallery is current."""

    __tablename__ = "artist_galleries"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Batch(Base):
    """A catalogue scan: many items, one status, one results file, one webhook at the end."""

    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_batches_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    # Per-job webhooks for the items (to the same webhook_url): off unless asked for.
    job_webhooks: Mapped[bool] = mapped_column(Boolean, default=False)
    client_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JsonType)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BatchItem(Base):
    """One track of a batch, in submission order (``seq``). ``status`` is ``pending`` until
    its job is made (then ``queued``: the job's own status is the truth), or ``failed`` /
    ``canceled`` when it never got a job."""

    __tablename__ = "batch_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "custom_id"),
        # The dispatcher reads a batch's pending items in submission order.
        Index("ix_batch_items_status", "batch_id", "status", "seq"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL only for a bad manifest line that named none (or repeated one).
    custom_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    source: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    client_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JsonType)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

"""Batch service: create a tenant's batches (item lists, manifests, a storage prefix), add
uploads one at a time, close, cancel, read, and keep work flowing to the workers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import batchstate
from app.config import Settings
from app.errors import (
    ConflictError,
    DuplicateItemError,
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    Problem,
    TooLargeError,
    TooManyItemsError,
)
from app.formats import SNIFF_BYTES, sniff_format
from app.hashing import sha256_stream
from app.jobsource import JobSource
from app.manifest import ItemSpec
from app.queue import enqueue_batch_job
from app.storage import Storage
from app.tables import Batch, BatchItem, utcnow

log = logging.getLogger(__name__)
INSERT_CHUNK = 1000
# Objects the service writes itself under a tenant's space are never scanned as sources.
OWN_FOLDERS = ("jobs/", "batches/")


@dataclass(frozen=True)
class NewBatch:
    webhook_url: str | None
    job_webhooks: bool
    metadata: dict[str, Any] | None
    idempotency_key: str | None
    request_hash: str


def find_replay(session: Session, tenant_id: uuid.UUID, new: NewBatch) -> Batch | None:
    """The batch a repeated request (same Idempotency-Key) created, or None."""
    if not new.idempotency_key:
        return None
    batch = session.scalar(
        select(Batch).where(
            Batch.tenant_id == tenant_id, Batch.idempotency_key == new.idempotency_key
        )
    )
    if batch is not None and batch.request_hash != new.request_hash:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request body"
        )
    return batch


def create_batch(
    session: Session,
    settings: Settings,
    tenant_id: uuid.UUID,
    new: NewBatch,
    items: Iterable[ItemSpec] | None,
) -> Batch:
    """Store a batch and its items in one transaction, then start the first items. With
    ``items`` None the batch stays open for uploads until it is closed."""
    now = utcnow()
    batch = Batch(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        status="open" if items is None else "running",
        webhook_url=new.webhook_url,
        job_webhooks=new.job_webhooks,
        client_metadata=new.metadata,
        item_count=0,
        idempotency_key=new.idempotency_key,
        request_hash=new.request_hash,
        created_at=now,
        updated_at=now,
        closed_at=None if items is None else now,
    )
    session.add(batch)
    session.flush()
    if items is not None:
        batch.item_count = _insert_items(session, batch.id, items, settings.batch_max_items)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # the same Idempotency-Key arrived twice at once: the other won
        replay = find_replay(session, tenant_id, new)
        if replay is None:
            raise
        return replay
    advance(session, settings, tenant_id, batch.id)
    session.refresh(batch)
    return batch


def _insert_items(
    session: Session, batch_id: uuid.UUID, items: Iterable[ItemSpec], limit: int
) -> int:
    """Insert items in submission order, a chunk at a time; returns how many."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    seq = 0
    for spec in items:
        if seq >= limit:
            raise TooManyItemsError(f"a batch holds at most {limit} items")
        if spec.custom_id is not None and spec.custom_id in seen:
            problem = DuplicateItemError(f"custom_id {spec.custom_id!r} repeats an earlier item")
            spec = ItemSpec.failed(None, problem, spec.where)
        elif spec.custom_id is not None:
            seen.add(spec.custom_id)
        rows.append(_item_row(batch_id, seq, spec))
        seq += 1
        if len(rows) == INSERT_CHUNK:
            session.execute(insert(BatchItem), rows)
            rows = []
    if rows:
        session.execute(insert(BatchItem), rows)
    return seq


def _item_row(batch_id: uuid.UUID, seq: int, spec: ItemSpec) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "seq": seq,
        "custom_id": spec.custom_id,
        "status": "failed" if spec.error else "pending",
        "source": spec.source,
        "client_metadata": spec.metadata,
        "sha256": spec.sha256,
        "error": spec.error,
        "created_at": utcnow(),
    }


def prefix_items(storage: Storage, tenant_id: uuid.UUID, prefix: str) -> Iterator[ItemSpec]:
    """One item per object under ``prefix`` of the tenant's space (custom_id: the key
    after the prefix). Content is checked by ingest: a non-audio object fails its item."""
    space = f"tenants/{tenant_id}/"
    if not prefix.startswith(space) or ".." in prefix.split("/"):
        raise NotFoundError(f"no objects under {prefix} for this tenant")
    for key in storage.list_keys(prefix):
        if key.endswith("/") or key[len(space) :].startswith(OWN_FOLDERS):
            continue
        yield ItemSpec(key[len(prefix) :] or key, {"kind": "s3_key", "s3_key": key}, None)


def add_upload(
    session: Session,
    settings: Settings,
    storage: Storage,
    batch: Batch,
    custom_id: str,
    filename: str,
    stream: IO[bytes],
) -> tuple[BatchItem, bool]:
    """Add one uploaded file to an open batch; (item, True when new). Content refused at
    submit (not audio, too large, unsupported) makes a failed item with the problem's code.
    The same file sent again under the same custom_id returns the first item."""
    digest = sha256_stream(stream)
    earlier = _item_by_custom_id(session, batch.id, custom_id)
    if earlier is not None:
        if earlier.sha256 == digest:
            return earlier, False
        raise DuplicateItemError(f"custom_id {custom_id!r} already names another file")
    spec = ItemSpec(custom_id, None, None, sha256=digest)
    key = f"tenants/{batch.tenant_id}/batches/{batch.id}/uploads/{uuid.uuid4()}"
    try:
        _check_upload(stream, settings.max_upload_bytes)
    except Problem as exc:
        spec = replace(ItemSpec.failed(custom_id, exc, "upload"), sha256=digest)
    else:
        storage.put_stream(key, stream, "application/octet-stream")
        spec = replace(spec, source=JobSource.upload(filename, key).to_json())
    try:
        item = append_item(session, batch.id, spec)
    except Problem:
        if spec.source is not None:
            storage.delete(key)
        raise
    advance(session, settings, batch.tenant_id, batch.id)
    return item, True


def _check_upload(stream: IO[bytes], max_bytes: int) -> None:
    size = stream.seek(0, 2)
    stream.seek(0)
    if size > max_bytes:
        raise TooLargeError(f"the file is {size} bytes; the limit is {max_bytes}")
    sniff_format(stream.read(SNIFF_BYTES))
    stream.seek(0)


def append_item(session: Session, batch_id: uuid.UUID, spec: ItemSpec) -> BatchItem:
    """Give ``spec`` the open batch's next position; 409 when the batch is not open or
    the custom_id is taken. The position is claimed by one atomic UPDATE, which also
    holds the batch against a concurrent close until the item is committed."""
    session.commit()  # a fresh transaction whose first statement takes the write lock
    claimed = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == "open")
        .values(item_count=Batch.item_count + 1, updated_at=utcnow())
        .returning(Batch.item_count)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        session.rollback()
        status = session.scalar(select(Batch.status).where(Batch.id == batch_id))
        raise ConflictError(f"batch {batch_id} is {status}; it takes no more items")
    item = BatchItem(**_item_row(batch_id, claimed - 1, spec))
    session.add(item)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateItemError(f"custom_id {spec.custom_id!r} is already in this batch") from None
    return item


def _item_by_custom_id(session: Session, batch_id: uuid.UUID, custom_id: str) -> BatchItem | None:
    return session.scalar(
        select(BatchItem).where(BatchItem.batch_id == batch_id, BatchItem.custom_id == custom_id)
    )


def get_batch(session: Session, tenant_id: uuid.UUID, batch_id: str) -> Batch:
    """The tenant's batch; another tenant's is indistinguishable from a missing one."""
    try:
        parsed = uuid.UUID(batch_id)
    except ValueError:
        raise NotFoundError(f"no batch {batch_id}") from None
    batch = session.get(Batch, parsed)
    if batch is None or batch.tenant_id != tenant_id:
        raise NotFoundError(f"no batch {batch_id}")
    return batch


def close_batch(session: Session, settings: Settings, batch: Batch) -> Batch:
    if batch.status == "open":
        batchstate.close(session, batch.id)
        advance(session, settings, batch.tenant_id, batch.id)
    session.refresh(batch)
    if batch.status == "canceled":
        raise ConflictError(f"batch {batch.id} was canceled")
    return batch


def cancel_batch(session: Session, settings: Settings, batch: Batch) -> Batch:
    """Stop a batch: items not started never start; running ones stop after their stage."""
    if batch.status == "canceled":
        return batch
    canceled = batchstate.cancel(session, batch)
    session.refresh(batch)
    if canceled is None:
        raise ConflictError(f"batch {batch.id} already {batch.status}; it cannot be canceled")
    advance(session, settings, batch.tenant_id, None)  # the tenant's other batches go on
    return batch


def advance(
    session: Session, settings: Settings, tenant_id: uuid.UUID, batch_id: uuid.UUID | None
) -> None:
    """Start the tenant's next waiting items (up to its cap) and complete ``batch_id`` if
    nothing of it is left; the API calls this after intake, the workers after each item."""
    for job_id in batchstate.dispatch(session, tenant_id, settings.batch_max_in_flight):
        _send(enqueue_batch_job, settings, str(job_id))
    if batch_id is not None:
        batchstate.finish_if_done(session, batch_id)  # its webhook goes through the outbox


def _send(enqueue: Any, settings: Settings, *args: str) -> None:
    """A message that cannot be sent now is not lost work: the reaper resends the start of
    a job left queued, and the sweep completes batches. Log it and go on."""
    try:
        enqueue(settings, *args)
    except (KombuOperationalError, OSError):
        log.warning("broker unreachable: %s%s not sent now", enqueue.__name__, args)


def check_json_fields(body: dict[str, Any]) -> None:
    if "items" in body and "source" in body:
        raise InvalidRequestError("send either items or source.s3_prefix, not both")
    if "items" in body and not isinstance(body["items"], list):
        raise InvalidRequestError("items must be a list of item objects")

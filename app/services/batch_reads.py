"""Reading batches: counts per item status, lists of batches, pages of items, and the
results export (JSONL or CSV, in submission order, read a page at a time)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.errors import InvalidRequestError
from app.jobsource import JobSource
from app.services.paging import Keyset, check_limit, page
from app.tables import BATCH_STATUSES, ITEM_STATUSES, TERMINAL_STATUSES, Batch, BatchItem, Job

MAX_BATCH_PAGE = 100
NEWEST_BATCH_FIRST = Keyset(Batch.created_at, datetime.fromisoformat, descending=True)
MAX_ITEM_PAGE = 1000
EXPORT_PAGE = 500
# An item shows its job's status once it has one (the job's row is the truth).
effective_status = func.coalesce(Job.status, BatchItem.status)
CSV_COLUMNS = (
    "index",
    "custom_id",
    "job_id",
    "status",
    "verdict",
    "score_overall",
    "score_mixture",
    "score_vocals",
    "top_artist_id",
    "top_artist_name",
    "top_artist_similarity",
    "error_code",
    "error_detail",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def counts(session: Session, batch_id: uuid.UUID) -> dict[str, int]:
    """How many items of the batch are in each status (every status named, 0 or more)."""
    query = (
        select(effective_status, func.count())
        .select_from(BatchItem)
        .outerjoin(Job, Job.id == BatchItem.job_id)
        .where(BatchItem.batch_id == batch_id)
        .group_by(effective_status)
    )
    found = {str(status): int(n) for status, n in session.execute(query)}
    return {status: found.get(status, 0) for status in ITEM_STATUSES}


def batch_to_dict(batch: Batch, per_status: dict[str, int]) -> dict[str, Any]:
    ended = sum(per_status[s] for s in TERMINAL_STATUSES)
    base = f"/v1/batches/{batch.id}"
    return {
        "id": str(batch.id),
        "status": batch.status,
        "item_count": batch.item_count,
        "counts": per_status,
        "progress": round(ended / batch.item_count, 4) if batch.item_count else 0.0,
        "metadata": batch.client_metadata,
        "webhook_url": batch.webhook_url,
        "job_webhooks": batch.job_webhooks,
        "created_at": _iso(batch.created_at),
        "updated_at": _iso(batch.updated_at),
        "closed_at": _iso(batch.closed_at),
        "finished_at": _iso(batch.finished_at),
        "links": {
            "self": base,
            "items": f"{base}/items",
            "results": f"{base}/results",
            "cancel": f"{base}/cancel",
            "close": f"{base}/close",
        },
    }


def list_batches(
    session: Session, tenant_id: uuid.UUID, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Batch], str | None]:
    """Newest first; ``cursor`` continues after the last batch of the previous page."""
    if status is not None and status not in BATCH_STATUSES:
        raise InvalidRequestError(f"status must be one of {', '.join(BATCH_STATUSES)}")
    check_limit(limit, MAX_BATCH_PAGE)
    query = select(Batch).where(Batch.tenant_id == tenant_id)
    if status:
        query = query.where(Batch.status == status)
    return page(session, query, NEWEST_BATCH_FIRST, limit, cursor)


def _item_rows(
    session: Session, batch_id: uuid.UUID, after: int, limit: int, status: str | None = None
) -> list[Row[Any]]:
    query = (
        select(
            BatchItem.seq,
            BatchItem.custom_id,
            effective_status.label("status"),
            BatchItem.job_id,
            BatchItem.sha256,
            BatchItem.source,
            BatchItem.client_metadata,
            func.coalesce(Job.error, BatchItem.error).label("error"),
            Job.result["verdict"].label("verdict"),
            Job.result["scores"].label("scores"),
            Job.result["artist_matches"].label("artist_matches"),
        )
        .outerjoin(Job, Job.id == BatchItem.job_id)
        .where(BatchItem.batch_id == batch_id, BatchItem.seq > after)
    )
    if status is not None:
        query = query.where(effective_status == status)
    return list(session.execute(query.order_by(BatchItem.seq).limit(limit)))


def list_items(
    session: Session, batch_id: uuid.UUID, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of items in submission order; ``cursor`` is the last index of the previous."""
    if status is not None and status not in ITEM_STATUSES:
        raise InvalidRequestError(f"status must be one of {', '.join(ITEM_STATUSES)}")
    if not 1 <= limit <= MAX_ITEM_PAGE:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_ITEM_PAGE}")
    try:
        after = int(cursor) if cursor else -1
    except ValueError:
        raise InvalidRequestError("cursor is not one this API returned") from None
    rows = _item_rows(session, batch_id, after, limit + 1, status)
    more = len(rows) > limit
    rows = rows[:limit]
    return [_item_dict(row) for row in rows], (str(rows[-1].seq) if more else None)


def get_item(session: Session, batch_id: uuid.UUID, seq: int) -> dict[str, Any]:
    """The item at position ``seq`` as the items listing shows it."""
    (row,) = _item_rows(session, batch_id, seq - 1, 1)
    return _item_dict(row)


def _item_dict(row: Row[Any]) -> dict[str, Any]:
    source = JobSource.from_json(row.source).public() if row.source else None
    return {
        "index": row.seq,
        "custom_id": row.custom_id,
        "status": row.status,
        "job_id": str(row.job_id) if row.job_id else None,
        "source": source,
        "sha256": row.sha256,
        "metadata": row.client_metadata,
        "error": row.error,
        "verdict": row.verdict,
    }


def result_record(row: Row[Any]) -> dict[str, Any]:
    """One line of the results export."""
    error = row.error or {}
    return {
        "index": row.seq,
        "custom_id": row.custom_id,
        "job_id": str(row.job_id) if row.job_id else None,
        "status": row.status,
        "verdict": row.verdict,
        "scores": row.scores,
        "top_artist_match": top_artist_match(row.artist_matches),
        "error_code": error.get("code"),
        "error_detail": error.get("detail"),
    }


def top_artist_match(matches: Any) -> dict[str, Any] | None:
    """The most similar artist among the report's matches (an entry marked ``match:
    false`` is a candidate below threshold, not a match); None when there is none."""
    if not isinstance(matches, list):
        return None
    found = [m for m in matches if isinstance(m, dict) and m.get("match", True) is not False]
    return max(found, key=lambda m: float(m.get("similarity") or 0.0), default=None)


def export_lines(factory: sessionmaker[Session], batch_id: uuid.UUID, fmt: str) -> Iterator[str]:
    """Every item's result in submission order, as JSON lines or CSV rows; each page is
    read in its own short transaction, so a long download holds no database connection."""
    if fmt == "csv":
        yield _csv_line(CSV_COLUMNS)
    after = -1
    while True:
        with factory() as session:
            rows = _item_rows(session, batch_id, after, EXPORT_PAGE)
        for row in rows:
            record = result_record(row)
            if fmt == "csv":
                yield _csv_line(_flat(record))
            else:
                yield json.dumps(record, separators=(",", ":")) + "\n"
        if len(rows) < EXPORT_PAGE:
            return
        after = rows[-1].seq


def _flat(record: dict[str, Any]) -> tuple[Any, ...]:
    scores = record["scores"] if isinstance(record["scores"], dict) else {}
    artist = record["top_artist_match"] or {}
    return (
        record["index"],
        record["custom_id"],
        record["job_id"],
        record["status"],
        record["verdict"],
        scores.get("overall"),
        scores.get("mixture"),
        scores.get("vocals"),
        artist.get("artist_id"),
        artist.get("name"),
        artist.get("similarity"),
        record["error_code"],
        record["error_detail"],
    )


def _csv_line(values: tuple[Any, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return out.getvalue()

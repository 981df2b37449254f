"""The orphan sweep: delete objects stored for a job whose row does not exist.

A submission stores the upload, then commits the job row, and deletes the upload when the
commit fails; a process killed in between leaves the object behind, and so does a deleted
job. Only job keys (``tenants/{tenant}/jobs/{job}/...``) are swept, never a client's own
objects, and only objects older than ``min_age_seconds`` (a submission in progress has
its object before its row). Unfinished local writes that old are removed too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage import Storage
from app.tables import Job, utcnow

log = logging.getLogger(__name__)

# Job ids looked up per query.
BATCH = 500


def sweep_orphans(
    open_session: Callable[[], Session], storage: Storage, min_age_seconds: int
) -> list[str]:
    """Delete old objects under job keys whose job row is gone; returns the deleted keys."""
    deleted: list[str] = []
    batch: dict[uuid.UUID, list[str]] = {}
    for job_id, key in _old_job_objects(storage, min_age_seconds):
        batch.setdefault(job_id, []).append(key)
        if len(batch) >= BATCH:
            deleted += _delete_unowned(open_session, storage, batch)
            batch = {}
    if batch:
        deleted += _delete_unowned(open_session, storage, batch)
    if deleted:
        log.info("orphan sweep deleted %d objects with no job row", len(deleted))
    return deleted


def _old_job_objects(storage: Storage, min_age_seconds: int) -> Iterator[tuple[uuid.UUID, str]]:
    cutoff = utcnow() - timedelta(seconds=min_age_seconds)
    for key, modified in storage.list_objects("tenants/"):
        parts = key.split("/")  # tenants/{tenant}/jobs/{job}/{name}
        if len(parts) < 5 or parts[2] != "jobs" or modified > cutoff:
            continue
        try:
            yield uuid.UUID(parts[3]), key
        except ValueError:
            continue


def _delete_unowned(
    open_session: Callable[[], Session], storage: Storage, batch: dict[uuid.UUID, list[str]]
) -> list[str]:
    with open_session() as session:
        owned = set(session.scalars(select(Job.id).where(Job.id.in_(list(batch)))))
    deleted = []
    for job_id, keys in batch.items():
        for key in keys:
            if job_id not in owned or _unfinished_write(key):
                storage.delete(key)
                deleted.append(key)
    return deleted


def _unfinished_write(key: str) -> bool:
    """A local write's temporary file (``.name.<hex>.part``) left by a killed process."""
    name = key.rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(".part")

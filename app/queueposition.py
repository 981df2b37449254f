"""Where a queued job stands: how many queued jobs start before it (``queue_position``)."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.tables import Job


def queue_position(session: Session, job: Job) -> int | None:
    """1 for the next job to start, 2 for the one after it...; None unless ``job`` is queued.

    The workers are shared, so every tenant's queued jobs count. Interactive jobs go before
    batch items (the priority bands of ``app.queue``), and within a band the older first: an
    interactive job counts the interactive jobs queued before it; a batch item counts every
    queued interactive job and the batch items queued before it. A position now, not a
    promise: an interactive job submitted later still goes before a waiting batch item. One
    count over the queued rows (``jobs.status`` is indexed).
    """
    if job.status != "queued":
        return None
    earlier = or_(
        Job.created_at < job.created_at, and_(Job.created_at == job.created_at, Job.id < job.id)
    )
    interactive = Job.batch_id.is_(None)
    ahead = and_(interactive, earlier) if job.batch_id is None else or_(interactive, earlier)
    query = select(func.count()).select_from(Job).where(Job.status == "queued", ahead)
    return 1 + int(session.scalar(query) or 0)

"""Worker beats, the one writer of ``worker_beats``: every worker's beat thread touches its
row every ``BEAT_INTERVAL_SECONDS``, a clean stop removes it, and ``/metrics`` counts the workers
of each queue alive or silent. A silent row is a worker that died without stopping (it is
restarted by its supervisor under another identity); it is forgotten after an hour.
``orphaned_by_silent`` tells, cheaply enough to ask every second, whether a running stage
belongs to a silent worker (workers/celery_app.py's takeover watch).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from app.tables import Job, WorkerBeat, utcnow

FORGET_AFTER_SECONDS = 3600
# Every worker beats this often (its own thread); silent five beats, it counts as dead and
# other workers take over its stages (app/handoff.py recover_orphaned), judged every
# TAKEOVER_CHECK_SECONDS. The longest gap between two beats of a live worker measured under
# load (benchmarks/bench_beats.py, README Reliability) stays well under the silence.
BEAT_INTERVAL_SECONDS = 2.0
SILENCE_SECONDS = 5 * BEAT_INTERVAL_SECONDS
TAKEOVER_CHECK_SECONDS = 1.0


def record_beat(session: Session, identity: str, queues: list[str]) -> None:
    """This worker (``app.liveness`` identity of its main process) is alive; forget workers
    silent for an hour. Commits."""
    now = utcnow()
    touched = session.execute(
        update(WorkerBeat).where(WorkerBeat.identity == identity).values(seen_at=now)
    )
    if not touched.rowcount:  # type: ignore[attr-defined]
        queue_list = ",".join(queues)
        session.add(WorkerBeat(identity=identity, queues=queue_list, started_at=now, seen_at=now))
    forgotten = now - timedelta(seconds=FORGET_AFTER_SECONDS)
    session.execute(delete(WorkerBeat).where(WorkerBeat.seen_at < forgotten))
    session.commit()


def forget(session: Session, identity: str) -> None:
    """This worker stops cleanly: it is not counted as a dead one. Commits."""
    session.execute(delete(WorkerBeat).where(WorkerBeat.identity == identity))
    session.commit()


def silent(session: Session, silent_after: float) -> set[str]:
    """The identities of workers not seen for ``silent_after`` seconds: they died."""
    cutoff = utcnow() - timedelta(seconds=silent_after)
    return set(session.scalars(select(WorkerBeat.identity).where(WorkerBeat.seen_at < cutoff)))


def orphaned_by_silent(session: Session, silent_after: float) -> bool:
    """Whether a running stage belongs to a worker not seen for ``silent_after`` seconds
    (its ``jobs.worker`` names that worker as the parent, ``app.liveness.owner_identity``).
    Two small reads: the silent workers, and, only when there are some, one matching job."""
    dead = silent(session, silent_after)
    if not dead:
        return False
    owned = or_(*(Job.worker.endswith("|" + identity, autoescape=True) for identity in dead))
    running = and_(Job.status == "running", Job.heartbeat_at.is_not(None), owned)
    return session.scalar(select(Job.id).where(running).limit(1)) is not None


def census(session: Session, silent_after: float) -> Counter[tuple[str, str]]:
    """Workers per (queue, ``alive`` or ``silent``): silent when not seen for
    ``silent_after`` seconds."""
    cutoff = utcnow() - timedelta(seconds=silent_after)
    counts: Counter[tuple[str, str]] = Counter()
    for state, seen in (
        ("alive", WorkerBeat.seen_at >= cutoff),
        ("silent", WorkerBeat.seen_at < cutoff),
    ):
        for queues in session.scalars(select(WorkerBeat.queues).where(seen)):
            counts.update((queue, state) for queue in queues.split(","))
    return counts

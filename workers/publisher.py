"""The stage hand-off on the worker side: publish a due stage's message, keep a heartbeat
while a stage runs, and the publisher thread that every worker process runs beside Celery.

The publisher works from PostgreSQL alone, every ``dispatch_interval_seconds``: it makes
stages whose worker went silent, or whose process is gone (``app.liveness``: at once, not
after the heartbeat timeout), due again, and publishes every stage due but unsent (the
broker was down when its predecessor finished). It does not go through the broker to be
scheduled, so it resumes the moment the broker is back.

A job's stages, their order, tasks and priorities are those of its pipeline
(``jobs.pipeline``, a key of ``workers.stages.PIPELINES``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import handoff, jobstate, workerbeats
from app.queue import batch_queue, stage_priority, stage_task
from app.tables import ANALYSIS, Job
from workers.runtime import Runtime
from workers.stages import PIPELINES, STAGES, Stage

log = logging.getLogger(__name__)

# Publishing failures that mean "the broker is not there": left for the publisher.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuOperationalError, RedisError, OSError)


@dataclass(frozen=True)
class Route:
    """Where the message of a job's due stage goes: task, queue and Redis priority."""

    task: str
    queue: str
    priority: int


def task_name(pipeline: str, stage: Stage) -> str:
    """The task of ``stage`` of ``pipeline`` (``app.queue.stage_task``)."""
    return stage_task(pipeline, stage.name)


def next_stage(stage: Stage, stages: tuple[Stage, ...] = STAGES) -> Stage | None:
    """The stage after ``stage`` in its pipeline ``stages``; None after the last one."""
    names = [s.name for s in stages]
    position = names.index(stage.name)
    return stages[position + 1] if position + 1 < len(stages) else None


def stage_route(session: Session, job_id: uuid.UUID, stage_name: str) -> Route:
    """The route of a job's stage in the job's pipeline: a batch item's stages run on the
    batch queues (``app.queue.batch_queue``: the fairness policy), and a later stage of a
    pipeline outranks an earlier one (``app.queue.stage_priority``)."""
    row = session.execute(select(Job.pipeline, Job.batch_id).where(Job.id == job_id)).first()
    pipeline, batch_id = (ANALYSIS, None) if row is None else row
    stages = PIPELINES[pipeline]
    position = [s.name for s in stages].index(stage_name)
    stage = stages[position]
    queue = stage.queue if batch_id is None else batch_queue(stage.queue)
    priority = stage_priority(position, len(stages), batch=batch_id is not None)
    return Route(task_name(pipeline, stage), queue, priority)


def send_stage(app: Celery, job_id: uuid.UUID, stage_name: str, route: Route) -> bool:
    """Send the message of a due stage once along ``route``, without waiting for an absent
    broker; False when the broker is unreachable (the publisher sends it later)."""
    try:
        app.send_task(
            route.task,
            args=[str(job_id)],
            queue=route.queue,
            priority=route.priority,
            retry=False,
        )
    except BROKER_ERRORS as exc:
        log.warning(
            "job %s: %s is due but the broker is unreachable (%s); the publisher will send it",
            job_id,
            stage_name,
            type(exc).__name__,
        )
        return False
    return True


def publish(app: Celery, runtime: Runtime, job_id: uuid.UUID, stage_name: str) -> bool:
    """Send a due stage's message and record it as sent."""
    with runtime.session() as session:
        route = stage_route(session, job_id, stage_name)
    if not send_stage(app, job_id, stage_name, route):
        return False
    with runtime.session() as session:
        jobstate.mark_dispatched(session, job_id, stage_name)
        session.commit()
    return True


def publish_due_once(app: Celery, runtime: Runtime, judge_beats: bool = False) -> int:
    """One round: make silent stages and those whose owner is gone due (by missing worker
    beats too when ``judge_beats``, see ``BeatStreak``), publish what is due; returns
    messages sent."""
    settings = runtime.settings
    with runtime.session() as session:
        for job_id in handoff.recover_silent(session, settings.heartbeat_timeout_seconds):
            log.warning("job %s: its worker went silent mid-stage; running it again", job_id)
    with runtime.session() as session:
        silent_after = workerbeats.SILENCE_SECONDS if judge_beats else None
        for job_id in handoff.recover_orphaned(session, silent_after):
            log.warning("job %s: the worker of its stage is gone; running it again", job_id)
    sent = 0
    with runtime.session() as session:
        for job_id, stage_name in handoff.due_stages(session, settings.redispatch_after_seconds):
            route = stage_route(session, job_id, stage_name)
            if not send_stage(app, job_id, stage_name, route):
                break  # the broker is down: the rest waits for the next round
            jobstate.mark_dispatched(session, job_id, stage_name)
            sent += 1
        session.commit()
    if sent:
        log.info("publisher sent %d due stage messages", sent)
    return sent


class BeatStreak:
    """How long this worker has beaten without a gap. Only a worker that saw the database
    up for a whole silence window may call another dead for its missing beats: after a
    database outage every row is stale at once, though every worker lives."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.start: float | None = None
        self.last: float | None = None

    def beat(self, now: float) -> float:
        """Record a beat written at ``now`` (monotonic); the seconds beaten without a gap."""
        if not self._unbroken(now) or self.start is None:
            self.start = now
        self.last = now
        return now - self.start

    def steady(self, now: float, window: float) -> bool:
        """Beaten without a gap up to ``now`` for at least ``window`` seconds."""
        return self._unbroken(now) and self.start is not None and now - self.start >= window

    def _unbroken(self, now: float) -> bool:
        return self.last is not None and now - self.last <= 2 * self.interval


class DuePublisher:
    """A daemon thread running ``publish_due_once`` every interval until stopped. On the
    embedded default it also keeps ``alive_file`` fresh, for ``/readyz``."""

    def __init__(
        self, tick: Callable[[], object], interval: float, alive_file: Path | None
    ) -> None:
        self.tick, self.interval, self.alive_file = tick, interval, alive_file
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soundscape-publisher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.alive_file is not None:
            self.alive_file.unlink(missing_ok=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            if self.alive_file is not None:
                self.alive_file.touch()
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the database may be down; try next round
                log.warning(
                    "dispatch round failed; retrying in %.0f s", self.interval, exc_info=True
                )
            self.stopped.wait(self.interval)


@contextmanager
def heartbeat(runtime: Runtime, job_id: uuid.UUID, stage: str) -> Iterator[None]:
    """Write the job's heartbeat every ``heartbeat_interval_seconds`` while the block runs,
    so that the publisher can tell a live stage from one whose worker died."""
    stopped = threading.Event()

    def run() -> None:
        while not stopped.wait(runtime.settings.heartbeat_interval_seconds):
            try:
                with runtime.session() as session:
                    if not jobstate.beat(session, job_id, stage):
                        return
            except Exception:  # noqa: BLE001 - the database blinked: the next beat may pass
                log.warning("job %s: heartbeat not written", job_id, exc_info=True)

    thread = threading.Thread(target=run, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=5)

"""The Celery app of the workers: one thin task per stage of each pipeline (analysis,
reference enrolment), the starter and the reaper; and the loops every worker runs beside
Celery: the stage publisher, its beats and the webhook dispatcher.

Run with ``celery -A workers.celery_app worker -Q cpu,gpu`` (or ``soundscape worker``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery, signals
from celery.exceptions import Ignore
from sqlalchemy import select

from app import batchstate, handoff, jobstate, liveness, workerbeats
from app.config import Settings, load_settings
from app.db import get_engine
from app.orphans import sweep_orphans
from app.queue import (
    BATCH_ADVANCE_TASK,
    BATCH_SWEEP_TASK,
    BATCH_WEBHOOK_TASK,
    CPU_QUEUE,
    ORPHAN_SWEEP_TASK,
    REAPER_TASK,
    START_TASK,
    WEBHOOK_TASK,
    celery_config,
    enqueue_job,
)
from app.services import batches
from app.tables import ANALYSIS, Job
from workers import webhooks
from workers.publisher import (
    BeatStreak,
    DuePublisher,
    next_stage,
    publish,
    publish_due_once,
    task_name,
)
from workers.runner import check_chain, execute_stage, fail_stage, is_transient
from workers.runtime import Runtime, sweep_workdirs, worker_runtime
from workers.stages import PIPELINES, Stage

# A transient error (database or storage unreachable) is retried after 5, 10, 20, 40 s,
# then every minute, for ``transient_retry_seconds`` in all: long enough to outlast a
# database failover. Each delay stays far below the visibility timeout.
RETRY_FIRST_SECONDS = 5
RETRY_MAX_SECONDS = 60
log = logging.getLogger(__name__)


def create_celery(settings: Settings) -> Celery:
    for stages in PIPELINES.values():
        check_chain(stages)  # a mis-wired stage registry stops the worker at start, not mid-job
    app = Celery("soundscape")
    app.conf.update(celery_config(settings))
    app.conf.task_routes = {
        task_name(pipeline, stage): {"queue": stage.queue}
        for pipeline, stages in PIPELINES.items()
        for stage in stages
    }
    cpu_tasks = (
        START_TASK,
        REAPER_TASK,
        WEBHOOK_TASK,
        BATCH_ADVANCE_TASK,
        BATCH_WEBHOOK_TASK,
        BATCH_SWEEP_TASK,
        ORPHAN_SWEEP_TASK,
    )
    app.conf.task_routes |= {name: {"queue": CPU_QUEUE} for name in cpu_tasks}
    app.conf.beat_schedule = {
        "reap-stale-jobs": {
            "task": REAPER_TASK,
            "schedule": float(settings.reaper_interval_seconds),
        },
        "sweep-batches": {
            "task": BATCH_SWEEP_TASK,
            "schedule": float(settings.batch_sweep_interval_seconds),
        },
        "sweep-orphaned-objects": {
            "task": ORPHAN_SWEEP_TASK,
            "schedule": float(settings.orphan_sweep_interval_seconds),
        },
    }
    app.conf.beat_schedule_filename = str(settings.data_dir / "celerybeat-schedule")
    retries = len(retry_delays(settings.transient_retry_seconds))
    for pipeline, stages in PIPELINES.items():
        for stage in stages:
            app.task(name=task_name(pipeline, stage), bind=True, max_retries=retries)(
                _stage_task(stage, stages)
            )
    app.task(name=START_TASK)(start_job)
    app.task(name=REAPER_TASK)(reap)
    app.task(name=ORPHAN_SWEEP_TASK)(sweep_orphaned_objects)
    # Webhooks go through the outbox; these two names only take over messages queued by a
    # release before it.
    app.task(name=WEBHOOK_TASK)(record_job_event)
    app.task(name=BATCH_ADVANCE_TASK)(advance_batch)
    app.task(name=BATCH_SWEEP_TASK)(sweep_batches)
    app.task(name=BATCH_WEBHOOK_TASK)(record_batch_event)
    return app


def retry_delays(budget_seconds: float) -> list[int]:
    """Countdowns of successive transient retries: 5, 10, 20, 40, 60, 60, ... s until they
    add up to ``budget_seconds``."""
    delays: list[int] = []
    while sum(delays) < budget_seconds:
        delays.append(min(RETRY_FIRST_SECONDS * 2 ** len(delays), RETRY_MAX_SECONDS))
    return delays


def _stage_task(stage: Stage, stages: tuple[Stage, ...]) -> Callable[..., None]:
    """The task running ``stage`` of the pipeline ``stages``, then publishing the next one."""

    def run(self: Any, job_id: str) -> None:
        runtime = worker_runtime()
        first_try = self.request.retries == 0
        try:
            go_on = execute_stage(runtime, stage, job_id, count_attempt=first_try, stages=stages)
        except Exception as exc:
            if not is_transient(exc):
                raise
            delays = retry_delays(runtime.settings.transient_retry_seconds)
            if self.request.retries >= len(delays):
                # Failing needs the database too; if it is still down, the job goes silent
                # and the publisher runs the stage again once it is back.
                fail_stage(runtime, uuid.UUID(job_id), stage.name, exc)
                raise Ignore() from exc
            raise self.retry(exc=exc, countdown=delays[self.request.retries]) from exc
        following = next_stage(stage, stages)
        if go_on and following is not None:
            publish(app, runtime, uuid.UUID(job_id), following.name)
        if not go_on:
            raise Ignore()  # the job is finished, failed or canceled, or a duplicate

    run.__name__ = f"{stage.name}_task"
    return run


def start_job(job_id: str) -> None:
    """Make a queued job's first stage due and publish it; the job stays queued until that
    stage begins. A duplicate start message publishes nothing more."""
    try:
        jid = uuid.UUID(job_id)
    except ValueError:
        log.error("ignored a start message for a malformed job id %r", job_id)
        return
    runtime = worker_runtime()
    with runtime.session() as session:
        pipeline = session.scalar(select(Job.pipeline).where(Job.id == jid)) or ANALYSIS
        first = PIPELINES[pipeline][0].name
        launch = jobstate.start_job(session, jid, first)
    if launch:
        publish(app, runtime, jid, first)


def reap() -> int:
    """Fail jobs whose worker vanished, and resend start messages that never arrived."""
    runtime = worker_runtime()
    settings = runtime.settings
    with runtime.session() as session:
        failed = jobstate.reap_stale_jobs(
            session, settings.stale_job_seconds, settings.max_queue_wait_seconds
        )
        waiting = jobstate.queued_too_long(session, settings.requeue_after_seconds)
    for job_id in failed:
        webhooks.advance_batch_if_finished(runtime, job_id)
    for job_id in waiting:
        enqueue_job(settings, str(job_id))
    return len(failed)


def sweep_orphaned_objects() -> int:
    """Delete stored objects whose job row does not exist (see app.orphans)."""
    runtime = worker_runtime()
    age = runtime.settings.orphan_min_age_seconds
    return len(sweep_orphans(runtime.session, runtime.storage, age))


def record_job_event(job_id: str) -> None:
    webhooks.record_legacy_job_event(worker_runtime(), job_id)


def advance_batch(tenant_id: str, batch_id: str) -> None:
    """After a batch item ended: start the tenant's next items, complete the batch if done."""
    runtime = worker_runtime()
    with runtime.session() as session:
        batches.advance(session, runtime.settings, uuid.UUID(tenant_id), uuid.UUID(batch_id))


def sweep_batches() -> None:
    """Beat's safety net for lost advance messages: advance every unfinished batch."""
    runtime = worker_runtime()
    with runtime.session() as session:
        for tenant_id, batch_id in batchstate.tenants_with_work(session):
            batches.advance(session, runtime.settings, tenant_id, batch_id)


def record_batch_event(batch_id: str) -> None:
    webhooks.record_legacy_batch_event(worker_runtime(), batch_id)


@signals.worker_init.connect  # type: ignore[untyped-decorator]
def _on_worker_init(**_: Any) -> None:
    sweep_workdirs(worker_runtime().settings)


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _on_pool_child_start(**_: Any) -> None:
    # A forked pool child must not share the parent's database connections (the
    # publisher thread uses them): drop the inherited pool without closing its sockets.
    get_engine(worker_runtime().settings.database_url).dispose(close=False)
    threads = app.conf.get("soundscape_torch_threads")
    if threads:
        # Each pool process computes on its share of the cores (`soundscape worker`
        # divides them): processes that each took every core would fight over them.
        import torch

        torch.set_num_threads(int(threads))


# The worker's loops beside Celery, from PostgreSQL alone: the stage publisher, its beats
# (app/workerbeats.py) and the webhook dispatcher (workers/webhooks.py).
_loops: list[DuePublisher] = []
_IDENTITY = liveness.process_identity()  # of the worker's main process (app.liveness)
_streak = BeatStreak(workerbeats.BEAT_INTERVAL_SECONDS)


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _on_worker_ready(**_: Any) -> None:
    runtime = worker_runtime()
    settings = runtime.settings
    if settings.embedded:
        # One worker, and a broker that never redelivers: whatever was in a stage when the
        # last worker died, or handed to it and not yet started, is run again now, not after
        # the heartbeat timeout or the resend delay.
        with runtime.session() as session:
            handoff.recover_silent(session, silent_after=0)
            handoff.forget_published(session)
    alive = settings.worker_alive_file if settings.embedded else None
    queues = sorted(app.amqp.queues.consume_from or app.amqp.queues)
    _loops.append(
        DuePublisher(lambda: publish_round(runtime), settings.dispatch_interval_seconds, alive)
    )
    _loops.append(
        DuePublisher(lambda: beat(runtime, queues), workerbeats.BEAT_INTERVAL_SECONDS, None)
    )
    _loops.append(
        DuePublisher(lambda: takeover_watch(runtime), workerbeats.TAKEOVER_CHECK_SECONDS, None)
    )
    _loops.append(
        DuePublisher(
            lambda: webhooks.deliver_due_once(runtime), webhooks.DISPATCH_INTERVAL_SECONDS, None
        )
    )
    for loop in _loops:
        loop.start()


def beat(runtime: Runtime, queues: list[str]) -> None:
    """This worker is alive: ``/metrics`` counts it, and other workers take over its stages
    once its beats stop."""
    with runtime.session() as session:
        workerbeats.record_beat(session, _IDENTITY, queues)
    _streak.beat(time.monotonic())


def publish_round(runtime: Runtime) -> None:
    """A round of the publisher thread; missing beats are judged only by a steady worker."""
    steady = _streak.steady(time.monotonic(), workerbeats.SILENCE_SECONDS)
    publish_due_once(app, runtime, judge_beats=steady)


def takeover_watch(runtime: Runtime) -> None:
    """Every second, between publisher rounds: when a running stage belongs to a worker
    silent for ``SILENCE_SECONDS``, take it over and publish it now rather than at the next
    round (up to ``dispatch_interval_seconds`` later). Judged only by a steady worker."""
    if not _streak.steady(time.monotonic(), workerbeats.SILENCE_SECONDS):
        return
    with runtime.session() as session:
        orphaned = workerbeats.orphaned_by_silent(session, workerbeats.SILENCE_SECONDS)
    if orphaned:
        publish_due_once(app, runtime, judge_beats=True)


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _on_worker_shutdown(**_: Any) -> None:
    for loop in _loops:
        loop.stop()
    try:
        with worker_runtime().session() as session:
            workerbeats.forget(session, _IDENTITY)
    except Exception:  # noqa: BLE001 - the database may be down: the row goes silent instead
        log.warning("worker beat not removed at shutdown", exc_info=True)


app = create_celery(load_settings())

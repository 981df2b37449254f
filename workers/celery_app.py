"""The Celery app of the workers: one thin task per registered stage, the starter, the reaper
and webhook delivery.

Run with ``celery -A workers.celery_app worker -Q cpu,gpu`` (or ``soundscape worker``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery, chain, signals
from celery.exceptions import Ignore

from app import jobstate
from app.config import Settings, load_settings
from app.orphans import sweep_orphans
from app.queue import CPU_QUEUE, START_TASK, WEBHOOK_TASK, celery_config, enqueue_job
from workers import webhooks
from workers.runner import TRANSIENT_ERRORS, check_chain, execute_stage, fail_stage
from workers.runtime import sweep_workdirs, worker_runtime
from workers.stages import STAGES, Stage

REAPER_TASK = "soundscape.reaper"
ORPHAN_SWEEP_TASK = "soundscape.orphans.sweep"
MAX_TRANSIENT_RETRIES = 3
# A transient error is retried after 5, 15, 45 s: a database or storage blip, not an outage.
RETRY_BASE_SECONDS = 5
log = logging.getLogger(__name__)


def create_celery(settings: Settings) -> Celery:
    check_chain(STAGES)  # a mis-wired stage registry stops the worker at start, not mid-job
    app = Celery("soundscape")
    app.conf.update(celery_config(settings))
    app.conf.task_routes = {stage.task_name: {"queue": stage.queue} for stage in STAGES}
    app.conf.task_routes |= {
        name: {"queue": CPU_QUEUE}
        for name in (START_TASK, REAPER_TASK, WEBHOOK_TASK, ORPHAN_SWEEP_TASK)
    }
    app.conf.beat_schedule = {
        "reap-stale-jobs": {
            "task": REAPER_TASK,
            "schedule": float(settings.reaper_interval_seconds),
        },
        "sweep-orphaned-objects": {
            "task": ORPHAN_SWEEP_TASK,
            "schedule": float(settings.orphan_sweep_interval_seconds),
        },
    }
    app.conf.beat_schedule_filename = str(settings.data_dir / "celerybeat-schedule")
    for stage in STAGES:
        app.task(name=stage.task_name, bind=True, max_retries=MAX_TRANSIENT_RETRIES)(
            _stage_task(stage)
        )
    app.task(name=START_TASK)(start_job)
    app.task(name=REAPER_TASK)(reap)
    app.task(name=ORPHAN_SWEEP_TASK)(sweep_orphaned_objects)
    app.task(name=WEBHOOK_TASK, bind=True, max_retries=None)(deliver_webhook)
    return app


def _stage_task(stage: Stage) -> Callable[..., None]:
    def run(self: Any, job_id: str) -> None:
        runtime = worker_runtime()
        first_try = self.request.retries == 0
        try:
            go_on = execute_stage(runtime, stage, job_id, count_attempt=first_try)
        except TRANSIENT_ERRORS as exc:
            if self.request.retries >= MAX_TRANSIENT_RETRIES:
                fail_stage(runtime, uuid.UUID(job_id), stage.name, exc)
                raise Ignore() from exc
            raise self.retry(
                exc=exc, countdown=RETRY_BASE_SECONDS * 3**self.request.retries
            ) from exc
        if not go_on:
            raise Ignore()  # the job is finished, failed or canceled: stop the chain here

    run.__name__ = f"{stage.name}_task"
    return run


def start_job(job_id: str) -> None:
    """Move a queued job to running and launch its chain. A job left running with no stage
    (its starter died before publishing the chain) is launched again: stages are idempotent."""
    try:
        jid = uuid.UUID(job_id)
    except ValueError:
        log.error("ignored a start message for a malformed job id %r", job_id)
        return
    with worker_runtime().session() as session:
        launch = jobstate.start_job(session, jid)
    if launch:
        chain(
            *(
                app.signature(stage.task_name, args=(job_id,), immutable=True, queue=stage.queue)
                for stage in STAGES
            )
        ).apply_async()


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
        webhooks.notify_if_finished(runtime, job_id)
    for job_id in waiting:
        enqueue_job(settings, str(job_id))
    return len(failed)


def sweep_orphaned_objects() -> int:
    """Delete stored objects whose job row does not exist (see app.orphans)."""
    runtime = worker_runtime()
    age = runtime.settings.orphan_min_age_seconds
    return len(sweep_orphans(runtime.session, runtime.storage, age))


def deliver_webhook(self: Any, job_id: str) -> None:
    delay = webhooks.deliver(worker_runtime(), job_id, attempt=self.request.retries + 1)
    if delay is not None:
        raise self.retry(countdown=delay)


@signals.worker_init.connect  # type: ignore[untyped-decorator]
def _on_worker_init(**_: Any) -> None:
    sweep_workdirs(worker_runtime().settings)


app = create_celery(load_settings())

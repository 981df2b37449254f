"""The Celery app of the workers: one thin task per registered stage, the starter and the reaper.

Run with ``celery -A workers.celery_app worker -Q cpu,gpu`` (or ``soundscape worker``).
"""

from __future__ import annotations

import uuid

from celery import Celery, chain
from celery.exceptions import Ignore
from sqlalchemy import update

from app.config import Settings, load_settings
from app.models import Job, utcnow
from app.queue import CPU_QUEUE, START_TASK, celery_config
from workers import jobstate
from workers.runtime import worker_runtime
from workers.stages import STAGES, TRANSIENT_ERRORS, Stage, execute_stage

REAPER_TASK = "soundscape.reaper"


def create_celery(settings: Settings) -> Celery:
    app = Celery("soundscape")
    app.conf.update(celery_config(settings))
    app.conf.task_routes = {stage.task_name: {"queue": stage.queue} for stage in STAGES}
    app.conf.task_routes |= {START_TASK: {"queue": CPU_QUEUE}, REAPER_TASK: {"queue": CPU_QUEUE}}
    app.conf.beat_schedule = {"reap-stale-jobs": {
        "task": REAPER_TASK, "schedule": float(settings.reaper_interval_seconds)}}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.conf.beat_schedule_filename = str(settings.data_dir / "celerybeat-schedule")
    for stage in STAGES:
        app.task(name=stage.task_name, bind=True, autoretry_for=TRANSIENT_ERRORS,
                 retry_backoff=True, max_retries=3)(_stage_task(stage))
    app.task(name=START_TASK)(start_job)
    app.task(name=REAPER_TASK)(reap_stale_jobs)
    return app


def _stage_task(stage: Stage):
    def run(self, job_id: str) -> None:
        if not execute_stage(worker_runtime(), stage, job_id):
            raise Ignore()  # the job is finished, failed or canceled: stop the chain here

    run.__name__ = f"{stage.name}_task"
    return run


def start_job(job_id: str) -> None:
    """Move a queued job to running and launch its chain, exactly once per job."""
    runtime = worker_runtime()
    with runtime.session() as session:
        now = utcnow()
        moved = session.execute(
            update(Job).where(Job.id == uuid.UUID(job_id), Job.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now, updated_at=now))
        session.commit()
    if moved.rowcount:  # type: ignore[attr-defined]
        chain(*(app.signature(stage.task_name, args=(job_id,), immutable=True,
                              queue=stage.queue) for stage in STAGES)).apply_async()


def reap_stale_jobs() -> int:
    runtime = worker_runtime()
    with runtime.session() as session:
        return jobstate.reap_stale_jobs(session, runtime.settings.stale_job_seconds)


app = create_celery(load_settings())

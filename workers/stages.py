"""The stage registry and the one place that moves a job through a stage.

Adding a stage means one module under workers/tasks/ with ``run(runtime, job) -> output``
and one line in STAGES; the API, the chain and the inline runner pick it up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ConnectionError as BotoConnectionError
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from app.errors import InternalError, Problem, StageTimeoutError
from app.queue import CPU_QUEUE, GPU_QUEUE
from workers import jobstate
from workers.jobstate import JobRef
from workers.runtime import Runtime
from workers.tasks import detect, finalize, ingest, separate, webhook

log = logging.getLogger(__name__)

StageRun = Callable[[Runtime, JobRef], dict[str, Any]]


@dataclass(frozen=True)
class Stage:
    name: str
    queue: str
    run: StageRun

    @property
    def task_name(self) -> str:
        return f"soundscape.stage.{self.name}"


STAGES: tuple[Stage, ...] = (
    Stage("ingest", CPU_QUEUE, ingest.run),
    Stage("separate", GPU_QUEUE, separate.run),
    Stage("detect", GPU_QUEUE, detect.run),
    Stage("finalize", CPU_QUEUE, finalize.run),
)

# Errors worth retrying (the database or storage blinked); everything else fails the job.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError, TimeoutError, OperationalError, BotoConnectionError,
)


def execute_stage(runtime: Runtime, stage: Stage, job_id: str, count_attempt: bool = True) -> bool:
    """Run ``stage`` for a job; True when the chain should go on to the next stage.

    Idempotent: a stage whose output is already stored is not computed again, so a message
    redelivered after a crash finishes the job once, with no duplicate rows or objects.
    Transient errors (database, storage unreachable) propagate for the caller to retry.
    """
    jid = uuid.UUID(job_id)
    progress = [s.name for s in STAGES].index(stage.name) / len(STAGES)
    try:
        with runtime.session() as session:
            job = jobstate.begin_stage(session, jid, stage.name, progress, count_attempt)
            done = job is not None and jobstate.stage_output(session, jid, stage.name) is not None
        if job is None:
            log.info("job %s is finished or canceled: %s not run", job_id, stage.name)
            return False
        if not done:
            output = stage.run(runtime, job)  # no session is held during the computation
            with runtime.session() as session:
                jobstate.save_stage_output(session, jid, stage.name, output)
        if stage is STAGES[-1]:
            webhook.notify_if_finished(runtime, jid)
        return True
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes the job's problem object
        fail_stage(runtime, jid, stage.name, exc)
        return False


def fail_stage(runtime: Runtime, job_id: uuid.UUID, stage: str, exc: BaseException) -> None:
    """Fail the job with the problem ``exc`` stands for; the log keeps unexpected tracebacks."""
    if isinstance(exc, SoftTimeLimitExceeded):
        exc = StageTimeoutError(f"stage {stage} exceeded its time limit")
    if isinstance(exc, Problem):
        log.info("job %s failed in %s: %s", job_id, stage, exc.detail)
        problem = exc.problem()
    else:
        log.error("job %s failed in %s", job_id, stage, exc_info=exc)
        problem = InternalError(f"stage {stage} failed unexpectedly; the error is logged").problem()
    with runtime.session() as session:
        failed = jobstate.fail_job(session, job_id, {**problem, "stage": stage})
    if failed:
        webhook.notify_if_finished(runtime, job_id)

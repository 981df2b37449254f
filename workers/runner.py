"""The one place that moves a job through a stage, for Celery and for the inline run alike:
load the earlier stages' typed outputs, call the stage, store its output; and that ends a
pipeline: after its last stage the job succeeds with the result that stage's output holds."""

from __future__ import annotations

import logging
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from app import jobstate
from app.dependencies import outage
from app.errors import InternalError, Problem, StageTimeoutError
from workers import webhooks
from workers.publisher import heartbeat
from workers.runtime import Runtime
from workers.stages import STAGES, Stage, StageOutput
from workers.stages.base import EARLIER, FinalOutput

log = logging.getLogger(__name__)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: a dependency is down (``app.dependencies.outage``); anything else
    fails the job."""
    return outage(exc) is not None


def execute_stage(
    runtime: Runtime,
    stage: Stage,
    job_id: str,
    count_attempt: bool = True,
    stages: Sequence[Stage] = STAGES,
) -> bool:
    """Run ``stage`` for a job; True when the next stage is due (the caller publishes it).

    The output and "next stage due" are stored in one transaction. Idempotent: a stage
    whose output is already stored is not computed again, and a duplicate message is
    dropped, so a message sent again after a crash finishes the job once, with no
    duplicate rows or objects. Transient errors (database, storage unreachable) propagate
    for the caller to retry.
    """
    jid = uuid.UUID(job_id)
    position = [s.name for s in stages].index(stage.name)
    following = stages[position + 1].name if position + 1 < len(stages) else None
    try:
        with runtime.session() as session:
            job = jobstate.begin_stage(
                session,
                jid,
                stage.name,
                position / len(stages),
                count_attempt,
                silent_after=runtime.settings.heartbeat_timeout_seconds,
            )
            if job is None:
                log.info("job %s: %s message dropped (job over, or a duplicate)", jid, stage.name)
                return False
            done = jobstate.has_stage_output(session, jid, stage.name)
            earlier = {} if done else load_outputs(session, jid, stages[:position])
        output = None if done else _compute(runtime, stage, job, earlier)
        last, done_share = following is None, (position + 1) / len(stages)
        with runtime.session() as session:
            if output is None:
                jobstate.make_next_due(session, jid, stage.name, following, not last, done_share)
            else:
                jobstate.save_stage_output(
                    session, jid, stage.name, output, following, not last, done_share
                )
            if last:
                end_pipeline(session, jid, stage)
        if last:
            webhooks.advance_batch_if_finished(runtime, jid)
        return True
    except Exception as exc:  # noqa: BLE001 - every failure becomes the job's problem object
        if is_transient(exc):
            raise
        fail_stage(runtime, jid, stage.name, exc)
        return False


def end_pipeline(session: Session, job_id: uuid.UUID, last: Stage) -> None:
    """The pipeline's last stage is done (its output written, not yet committed): the job
    succeeds with the result that output holds, unless it was canceled meanwhile; output,
    success and webhook event commit together, so a crash keeps all of them or none."""
    final = typing.cast(FinalOutput, load_outputs(session, job_id, [last])[last.name])
    jobstate.succeed_job(session, job_id, final.result())


def _compute(
    runtime: Runtime, stage: Stage, job: jobstate.JobRef, earlier: Mapping[str, StageOutput]
) -> dict[str, Any]:
    """Run the stage with no database session held, writing heartbeats meanwhile."""
    with heartbeat(runtime, job.id, stage.name):
        return dict(stage.run(runtime, job, build_inputs(stage, earlier)).to_json())


def load_outputs(
    session: Session, job_id: uuid.UUID, earlier: Sequence[Stage]
) -> dict[str, StageOutput]:
    """The stored outputs of the ``earlier`` stages, typed, in pipeline order."""
    rows = jobstate.stage_outputs(session, job_id, [s.name for s in earlier])
    return {s.name: s.output.from_json(rows[s.name]) for s in earlier if s.name in rows}


def build_inputs(stage: Stage, earlier: Mapping[str, StageOutput]) -> Any:
    """The stage's input: each field gets the output of the stage it names, and a field
    named ``earlier`` gets every earlier output in pipeline order."""
    values = {
        f.name: tuple(earlier.values()) if f.name == EARLIER else earlier[f.name]
        for f in fields(stage.input)
    }
    return stage.input(**values)


def check_chain(stages: Sequence[Stage] = STAGES) -> None:
    """Raise TypeError unless every input field names an earlier stage and has its output
    type (or is ``earlier``): the chain can then always build each stage's input; and
    unless the last stage's output holds the job's result (``FinalOutput``)."""
    outputs: dict[str, type[Any]] = {}
    for stage in stages:
        for name, hint in typing.get_type_hints(stage.input).items():
            if name != EARLIER and outputs.get(name) is not hint:
                raise TypeError(
                    f"stage {stage.name}: input {name}: {hint} is not the output "
                    f"of an earlier stage ({sorted(outputs)})"
                )
        outputs[stage.name] = stage.output
    if stages and not callable(getattr(stages[-1].output, "result", None)):
        raise TypeError(f"stage {stages[-1].name} ends a pipeline: its output needs result()")


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
        webhooks.advance_batch_if_finished(runtime, job_id)

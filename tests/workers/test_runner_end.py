"""The end of a pipeline (workers/runner.py): the last stage's output, the job's success and
its webhook event commit together, so a worker that dies at that moment leaves all of them
or none, and the stage run again finishes the job once; on the embedded database."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app import jobstate, outbox
from app.db import session_scope
from app.tables import Job, StageResult, WebhookEvent
from tests.app.rows import new_job
from tests.workers.stages.test_chain import SAMPLES
from workers.runner import execute_stage
from workers.runtime import runtime_from
from workers.stages import STAGES
from workers.stages.finalize import FinalizeOutput

FINALIZE = dataclasses.replace(
    STAGES[-1], run=lambda runtime, job, inputs: FinalizeOutput({"verdict": "inconclusive"})
)
CHAIN = (*STAGES[:-1], FINALIZE)


class WorkerDied(BaseException):
    """Stands for the process dying: no ``except Exception`` of the worker catches it."""


def job_at_finalize(url: str) -> uuid.UUID:
    job_id = new_job(
        url, status="running", next_stage="ingest", webhook_url="https://client.test/hooks"
    )
    with session_scope(url) as session:
        for stage, following in zip(STAGES[:-1], STAGES[1:], strict=True):
            assert jobstate.begin_stage(session, job_id, stage.name, 0.5) is not None
            output = SAMPLES[stage.name].to_json()
            jobstate.save_stage_output(session, job_id, stage.name, output, following.name)
    return job_id


def state(url: str, job_id: uuid.UUID) -> tuple[str, bool, list[str]]:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        finalized = session.scalar(
            select(StageResult.id).where(
                StageResult.job_id == job_id, StageResult.stage == "finalize"
            )
        )
        events = list(session.scalars(select(WebhookEvent.message_id)))
        return job.status, finalized is not None, events


def test_the_last_stage_commits_output_success_and_webhook_event_together(migrated_settings):
    url = migrated_settings.database_url
    job_id = job_at_finalize(url)
    assert execute_stage(runtime_from(migrated_settings), FINALIZE, str(job_id), stages=CHAIN)
    assert state(url, job_id) == ("succeeded", True, [f"msg_{job_id}_succeeded"])


@pytest.mark.parametrize(
    ("module", "name", "after_it"),
    [
        (jobstate, "succeed_job", False),  # dies as it marks the job succeeded
        (outbox, "record_job_events", True),  # dies once the event row is written
    ],
)
def test_a_worker_dying_as_the_job_ends_leaves_none_of_it_and_the_rerun_ends_it_once(
    migrated_settings, monkeypatch, module, name, after_it
):
    url = migrated_settings.database_url
    job_id = job_at_finalize(url)
    runtime = runtime_from(migrated_settings)
    real = getattr(module, name)

    def dies(*args: Any) -> None:
        if after_it:
            real(*args)
        raise WorkerDied

    monkeypatch.setattr(module, name, dies)
    with pytest.raises(WorkerDied):
        execute_stage(runtime, FINALIZE, str(job_id), stages=CHAIN)
    assert state(url, job_id) == ("running", False, [])
    monkeypatch.setattr(module, name, real)
    # The stage is run again (the worker's retry, or a redelivery once its process is gone).
    assert execute_stage(runtime, FINALIZE, str(job_id), count_attempt=False, stages=CHAIN)
    assert state(url, job_id) == ("succeeded", True, [f"msg_{job_id}_succeeded"])

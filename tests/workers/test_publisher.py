"""The hand-off follows each job's pipeline: the next stage, the task, the queue and the
priority of a due stage are those of the pipeline the job runs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from app.db import session_scope
from app.jobsource import JobSource
from app.queue import stage_priority, start_priority
from app.tables import ANALYSIS, REFERENCE, Batch, Job, Tenant, utcnow
from workers.publisher import Route, next_stage, publish_due_once, stage_route
from workers.runtime import runtime_from
from workers.stages import PIPELINES, REFERENCE_STAGES, STAGES


class RecordingCelery:
    """Stands in for the Celery app: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_task(self, name: str, **options: Any) -> None:
        self.sent.append({"task": name, **options})


def _job(database_url: str, pipeline: str, next_due: str, in_batch: bool = False) -> uuid.UUID:
    with session_scope(database_url) as session:
        tenant = Tenant(name=f"dispatch-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        session.flush()
        batch = Batch(tenant_id=tenant.id) if in_batch else None
        if batch is not None:
            session.add(batch)
            session.flush()
        job = Job(
            tenant_id=tenant.id,
            pipeline=pipeline,
            status="running",
            progress=0.0,
            source=JobSource.upload("a.wav", "k").to_json(),
            attempts=0,
            batch_id=batch.id if batch else None,
            next_stage=next_due,
            updated_at=utcnow() - timedelta(minutes=1),
        )
        session.add(job)
        session.flush()
        return job.id


def test_the_next_stage_is_the_next_one_of_the_jobs_pipeline():
    by_name = {stage.name: stage for stage in STAGES}
    assert next_stage(by_name["separate"], PIPELINES[ANALYSIS]) == by_name["identify"]
    assert next_stage(by_name["detect"], PIPELINES[ANALYSIS]) == by_name["localize"]
    assert next_stage(by_name["separate"], PIPELINES[REFERENCE]) == REFERENCE_STAGES[-1]
    assert next_stage(REFERENCE_STAGES[-1], PIPELINES[REFERENCE]) is None


def test_an_analysis_stage_goes_to_its_own_task_queue_and_priority(migrated_settings):
    job_id = _job(migrated_settings.database_url, ANALYSIS, "identify")
    with session_scope(migrated_settings.database_url) as session:
        route = stage_route(session, job_id, "identify")
    assert route == Route("soundscape.stage.identify", "gpu", stage_priority(2, len(STAGES)))


def test_a_reference_stage_goes_to_the_reference_pipelines_task(migrated_settings):
    job_id = _job(migrated_settings.database_url, REFERENCE, "separate")
    with session_scope(migrated_settings.database_url) as session:
        separate = stage_route(session, job_id, "separate")
        enroll = stage_route(session, job_id, "enroll")
    assert separate == Route("soundscape.reference.separate", "gpu", stage_priority(1, 3))
    assert enroll == Route("soundscape.reference.enroll", "gpu", stage_priority(2, 3))


def test_a_batch_items_stage_keeps_its_batch_queue(migrated_settings):
    job_id = _job(migrated_settings.database_url, ANALYSIS, "localize", in_batch=True)
    with session_scope(migrated_settings.database_url) as session:
        route = stage_route(session, job_id, "localize")
    assert (route.task, route.queue) == ("soundscape.stage.localize", "cpu-batch")
    # and the batch band of priorities: behind every interactive stage and start
    position = [s.name for s in STAGES].index("localize")
    assert route.priority == stage_priority(position, len(STAGES), True)
    assert route.priority > start_priority()


def test_the_publisher_sends_each_due_stage_along_its_pipelines_route(migrated_settings):
    url = migrated_settings.database_url
    analysis = _job(url, ANALYSIS, "detect")
    reference = _job(url, REFERENCE, "enroll")
    celery = RecordingCelery()
    assert publish_due_once(celery, runtime_from(migrated_settings)) == 2
    sent = {message["args"][0]: (message["task"], message["queue"]) for message in celery.sent}
    assert sent == {
        str(analysis): ("soundscape.stage.detect", "gpu"),
        str(reference): ("soundscape.reference.enroll", "gpu"),
    }
    with session_scope(url) as session:
        assert all(session.get(Job, j).dispatched_at for j in (analysis, reference))

"""Job state transitions on a real PostgreSQL: conditional writes, attempts, the reaper."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.db import session_scope, upgrade
from app.models import Job, Tenant, utcnow
from workers import jobstate

pytestmark = pytest.mark.integration


@pytest.fixture()
def db(postgres_url):
    upgrade(postgres_url)
    return postgres_url


def make_job(url: str, status: str = "running", **fields) -> uuid.UUID:
    with session_scope(url) as session:
        tenant = Tenant(name=f"t-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        session.flush()
        job = Job(tenant_id=tenant.id, status=status, progress=0.0, attempts=0,
                  source={"kind": "upload"}, **fields)
        session.add(job)
        session.flush()
        return job.id


def status_of(url: str, job_id: uuid.UUID) -> str:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


def test_a_canceled_job_is_never_marked_succeeded_or_failed(db):
    job_id = make_job(db, status="canceled")
    with session_scope(db) as session:
        assert not jobstate.succeed_job(session, job_id, {"verdict": "inconclusive"})
        assert not jobstate.fail_job(session, job_id, {"code": "x"})
    assert status_of(db, job_id) == "canceled"


def test_begin_stage_skips_finished_jobs(db):
    job_id = make_job(db, status="succeeded")
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0) is None


def test_a_stage_that_keeps_crashing_its_worker_is_stopped(db):
    job_id = make_job(db)
    with session_scope(db) as session:
        for _ in range(jobstate.MAX_STAGE_ATTEMPTS):
            assert jobstate.begin_stage(session, job_id, "separate", 0.25) is not None
        with pytest.raises(jobstate.TooManyAttemptsError):
            jobstate.begin_stage(session, job_id, "separate", 0.25)


def test_moving_to_the_next_stage_resets_the_attempts(db):
    job_id = make_job(db)
    with session_scope(db) as session:
        jobstate.begin_stage(session, job_id, "ingest", 0.0)
        jobstate.begin_stage(session, job_id, "ingest", 0.0)
        jobstate.begin_stage(session, job_id, "separate", 0.25)
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 1


def test_saving_a_stage_output_twice_keeps_one_row(db):
    job_id = make_job(db)
    with session_scope(db) as session:
        jobstate.save_stage_output(session, job_id, "ingest", {"report": {"a": 1}})
        jobstate.save_stage_output(session, job_id, "ingest", {"report": {"a": 2}})
        assert jobstate.stage_outputs(session, job_id, ["ingest"]) == {
            "ingest": {"report": {"a": 2}}}


def test_the_reaper_fails_only_jobs_whose_worker_went_silent(db):
    stale = make_job(db, heartbeat_at=utcnow() - timedelta(hours=3))
    fresh = make_job(db, heartbeat_at=utcnow())
    queued = make_job(db, status="queued")
    with session_scope(db) as session:
        assert jobstate.reap_stale_jobs(session, stale_after_seconds=3600) >= 1
        job = session.get(Job, stale)
        assert job is not None and job.error is not None
        assert job.error["code"] == "worker_lost"
    assert [status_of(db, j) for j in (stale, fresh, queued)] == ["failed", "running", "queued"]

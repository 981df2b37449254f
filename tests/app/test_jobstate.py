"""The job-state rules (app/jobstate.py), one by one, on the embedded default's database."""

from __future__ import annotations

import pytest

from app import jobstate
from app.db import session_scope
from app.jobsource import JobSource
from app.tables import Batch, utcnow
from tests.app.rows import job_row, new_job, new_tenant


@pytest.fixture()
def db(migrated_settings):
    return migrated_settings.database_url


def test_a_new_job_is_queued_with_no_stage_and_no_attempts(db):
    job = job_row(db, new_job(db))
    assert (job.status, job.stage, job.attempts, job.progress) == ("queued", None, 0, 0.0)


def test_a_new_job_belongs_to_its_batch_and_pipeline(db):
    tenant_id = new_tenant(db)
    with session_scope(db) as session:
        job = jobstate.create_job(
            session, tenant_id, JobSource("url", url="https://x.test/a"), pipeline="reference"
        )
        session.flush()
        job_id = job.id
    row = job_row(db, job_id)
    assert (row.pipeline, row.source) == ("reference", {"kind": "url", "url": "https://x.test/a"})


def test_starting_a_job_makes_its_first_stage_due_and_leaves_it_queued(db):
    job_id = new_job(db)
    with session_scope(db) as session:
        assert jobstate.start_job(session, job_id, "ingest")
    job = job_row(db, job_id)
    assert (job.status, job.stage, job.next_stage, job.started_at) == (
        "queued",
        None,
        "ingest",
        None,
    )


def test_a_second_start_message_publishes_nothing_more(db):
    job_id = new_job(db)
    with session_scope(db) as session:
        assert jobstate.start_job(session, job_id, "ingest")
        jobstate.mark_dispatched(session, job_id, "ingest")
        session.commit()
        assert not jobstate.start_job(session, job_id, "ingest")
    assert job_row(db, job_id).dispatched_at is not None


def test_a_queued_job_turns_running_when_its_first_stage_begins(db):
    job_id = new_job(db)
    with session_scope(db) as session:
        jobstate.start_job(session, job_id, "ingest")
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0) is not None
    job = job_row(db, job_id)
    assert (job.status, job.stage, job.next_stage) == ("running", "ingest", None)
    assert job.started_at is not None


def test_a_queued_job_canceled_before_its_first_stage_never_begins_it(db):
    job_id = new_job(db)
    with session_scope(db) as session:
        jobstate.start_job(session, job_id, "ingest")
        assert jobstate.cancel_job(session, job_id)
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0) is None
    assert (job_row(db, job_id).status, job_row(db, job_id).stage) == ("canceled", None)


def test_a_job_already_in_a_stage_is_not_started_again(db):
    job_id = new_job(db, status="running", stage="detect")
    with session_scope(db) as session:
        assert not jobstate.start_job(session, job_id, "ingest")
    assert job_row(db, job_id).next_stage is None


def test_beginning_the_due_stage_acknowledges_the_hand_off(db):
    job_id = new_job(db, status="running", next_stage="ingest", dispatched_at=utcnow())
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0) is not None
    job = job_row(db, job_id)
    assert (job.stage, job.next_stage, job.dispatched_at) == ("ingest", None, None)
    assert job.heartbeat_at is not None and job.attempts == 1


def test_a_message_for_a_stage_that_is_not_due_is_dropped(db):
    job_id = new_job(db, status="running", next_stage="separate")
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, job_id, "detect", 0.5) is None
    assert job_row(db, job_id).stage is None


def test_a_finished_stage_makes_the_next_one_due_and_clears_the_heartbeat(db):
    job_id = new_job(db, status="running", stage="ingest", heartbeat_at=utcnow())
    with session_scope(db) as session:
        jobstate.make_next_due(session, job_id, "ingest", "separate")
    job = job_row(db, job_id)
    assert (job.next_stage, job.heartbeat_at) == ("separate", None)


def test_a_finished_stage_moves_the_progress_on(db):
    job_id = new_job(db, status="running", stage="ingest", heartbeat_at=utcnow())
    with session_scope(db) as session:
        jobstate.save_stage_output(session, job_id, "ingest", {}, "separate", progress=1 / 6)
    job = job_row(db, job_id)
    assert (job.stage, job.next_stage, round(job.progress, 3)) == ("ingest", "separate", 0.167)


def test_a_job_canceled_mid_stage_gets_no_next_stage(db):
    job_id = new_job(db, status="canceled", stage="ingest", heartbeat_at=utcnow())
    with session_scope(db) as session:
        jobstate.make_next_due(session, job_id, "ingest", "separate")
    job = job_row(db, job_id)
    assert (job.next_stage, job.heartbeat_at) == (None, None)


def test_a_succeeded_job_holds_its_result_and_no_stage(db):
    job_id = new_job(db, status="running", stage="finalize")
    with session_scope(db) as session:
        assert jobstate.succeed_job(session, job_id, {"verdict": "inconclusive"})
    job = job_row(db, job_id)
    assert (job.status, job.result, job.stage, job.progress) == (
        "succeeded",
        {"verdict": "inconclusive"},
        None,
        1.0,
    )


def test_a_canceled_job_never_succeeds(db):
    job_id = new_job(db, status="canceled")
    with session_scope(db) as session:
        assert not jobstate.succeed_job(session, job_id, {"verdict": "inconclusive"})
    assert job_row(db, job_id).status == "canceled"


def test_a_failed_job_holds_its_problem(db):
    job_id = new_job(db, status="running")
    with session_scope(db) as session:
        assert jobstate.fail_job(session, job_id, {"code": "corrupt_audio"})
    job = job_row(db, job_id)
    assert (job.status, job.error) == ("failed", {"code": "corrupt_audio"})


def test_a_finished_job_can_no_longer_be_canceled(db):
    job_id = new_job(db, status="succeeded")
    with session_scope(db) as session:
        assert not jobstate.cancel_job(session, job_id)
    assert job_row(db, job_id).status == "succeeded"


def test_canceling_a_batch_cancels_only_its_live_jobs(db):
    tenant_id = new_tenant(db)
    with session_scope(db) as session:
        batch = Batch(tenant_id=tenant_id)
        session.add(batch)
        session.flush()
        batch_id = batch.id
    live = new_job(db, tenant_id, batch_id=batch_id, status="running")
    done = new_job(db, tenant_id, batch_id=batch_id, status="succeeded")
    with session_scope(db) as session:
        assert jobstate.cancel_batch_jobs(session, batch_id) == [live]
    assert (job_row(db, live).status, job_row(db, done).status) == ("canceled", "succeeded")


def test_a_heartbeat_is_written_only_while_the_job_is_in_that_stage(db):
    job_id = new_job(db, status="running", stage="detect")
    with session_scope(db) as session:
        assert jobstate.beat(session, job_id, "detect")
        assert not jobstate.beat(session, job_id, "separate")

"""The hand-off rules (app/handoff.py), one by one, on the embedded default's database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import handoff, jobstate
from app.db import session_scope
from app.tables import utcnow
from tests.app.rows import job_row, new_job

LONG_AGO = timedelta(minutes=10)


@pytest.fixture()
def db(migrated_settings):
    return migrated_settings.database_url


def due(url: str, resend_after: int = 60) -> list:
    with session_scope(url) as session:
        return [job_id for job_id, _ in handoff.due_stages(session, resend_after)]


def test_a_stage_due_and_unsent_past_the_grace_is_due(db):
    job_id = new_job(db, status="running", next_stage="ingest", updated_at=utcnow() - LONG_AGO)
    assert due(db) == [job_id]


def test_a_stage_sent_recently_is_not_sent_again(db):
    job_id = new_job(db, status="running", next_stage="ingest", updated_at=utcnow() - LONG_AGO)
    with session_scope(db) as session:
        jobstate.mark_dispatched(session, job_id, "ingest")
    assert due(db) == []


def test_a_stage_sent_long_ago_and_not_started_is_due_again(db):
    job_id = new_job(
        db,
        status="running",
        next_stage="ingest",
        dispatched_at=utcnow() - LONG_AGO,
        updated_at=utcnow() - LONG_AGO,
    )
    assert due(db) == [job_id]


def test_a_queued_job_not_yet_started_has_no_stage_due(db):
    new_job(db, updated_at=utcnow() - LONG_AGO)
    assert due(db) == []


def test_a_queued_jobs_first_stage_due_and_unsent_is_due(db):
    job_id = new_job(db, next_stage="ingest", updated_at=utcnow() - LONG_AGO)
    assert due(db) == [job_id]


def test_stages_of_started_jobs_are_published_before_first_stages(db):
    waiting = new_job(db, next_stage="ingest", updated_at=utcnow() - LONG_AGO)
    started = new_job(
        db,
        status="running",
        next_stage="detect",
        started_at=utcnow(),
        updated_at=utcnow() - LONG_AGO,
    )
    assert due(db) == [started, waiting]


def test_a_canceled_jobs_due_stage_is_not_published(db):
    new_job(db, status="canceled", next_stage="ingest", updated_at=utcnow() - LONG_AGO)
    assert due(db) == []


def test_a_stage_whose_worker_went_silent_is_made_due_again(db):
    job_id = new_job(db, status="running", stage="detect", heartbeat_at=utcnow() - LONG_AGO)
    with session_scope(db) as session:
        assert handoff.recover_silent(session, silent_after=60) == [job_id]
    job = job_row(db, job_id)
    assert (job.next_stage, job.heartbeat_at) == ("detect", None)


def test_a_stage_with_a_fresh_heartbeat_is_left_running(db):
    job_id = new_job(db, status="running", stage="detect", heartbeat_at=utcnow())
    with session_scope(db) as session:
        assert handoff.recover_silent(session, silent_after=60) == []
    assert job_row(db, job_id).next_stage is None


def test_forgetting_published_stages_makes_them_unsent(db):
    job_id = new_job(db, status="running", next_stage="separate", dispatched_at=utcnow())
    with session_scope(db) as session:
        handoff.forget_published(session)
    assert job_row(db, job_id).dispatched_at is None


def test_forgetting_published_stages_covers_first_stages_of_queued_jobs(db):
    job_id = new_job(db, next_stage="ingest", dispatched_at=utcnow())
    with session_scope(db) as session:
        handoff.forget_published(session)
    assert job_row(db, job_id).dispatched_at is None

"""The stage hand-off on a real PostgreSQL: what the dispatcher sends, and when."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import handoff, jobstate
from app.db import session_scope, upgrade
from app.tables import Job, utcnow
from tests.integration.test_jobstate import make_job

pytestmark = pytest.mark.integration


@pytest.fixture()
def db(postgres_url):
    upgrade(postgres_url)
    return postgres_url


def due(url: str, resend_after: int = 900, grace: float = 0.0) -> set:
    with session_scope(url) as session:
        return {job_id for job_id, _ in handoff.due_stages(session, resend_after, grace)}


def test_a_stage_due_and_never_sent_is_found_sent_and_then_left_alone(db):
    job_id = make_job(db, next_stage="ingest")
    assert job_id in due(db)
    with session_scope(db) as session:
        jobstate.mark_dispatched(session, job_id, "ingest")
    assert job_id not in due(db)


def test_a_stage_sent_long_ago_and_not_started_is_sent_again(db):
    sent_long_ago = make_job(
        db, next_stage="detect", dispatched_at=utcnow() - timedelta(minutes=30)
    )
    assert sent_long_ago in due(db, resend_after=900)


def test_a_stage_just_fallen_due_is_left_to_its_own_worker_for_the_grace(db):
    job_id = make_job(db, next_stage="separate")
    assert job_id not in due(db, grace=60)


def test_finished_jobs_are_never_dispatched(db):
    for status in ("succeeded", "failed", "canceled"):
        assert make_job(db, status=status, next_stage="finalize") not in due(db)


def test_a_stage_silent_past_the_timeout_becomes_due_and_its_rerun_counts(db):
    silent = make_job(
        db, stage="separate", attempts=1, heartbeat_at=utcnow() - timedelta(minutes=5)
    )
    beating = make_job(db, stage="separate", attempts=1, heartbeat_at=utcnow())
    waiting = make_job(db, stage="ingest", heartbeat_at=None, next_stage="separate")
    with session_scope(db) as session:
        recovered = handoff.recover_silent(session, silent_after=120)
    assert recovered == [silent]
    assert silent in due(db) and beating not in due(db)
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, silent, "separate", 0.25)
        job = session.get(Job, silent)
        assert job is not None and job.attempts == 2 and job.next_stage is None
        other = session.get(Job, waiting)
        assert other is not None and other.next_stage == "separate"


def test_a_heartbeat_keeps_a_stage_alive_and_stops_once_the_job_moved_on(db):
    job_id = make_job(db, next_stage="detect")
    with session_scope(db) as session:
        jobstate.begin_stage(session, job_id, "detect", 0.5)
        assert jobstate.beat(session, job_id, "detect")
        assert handoff.recover_silent(session, silent_after=120) == []
        jobstate.cancel_job(session, job_id)
        assert not jobstate.beat(session, job_id, "detect")

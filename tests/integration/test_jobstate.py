"""Job state transitions on a real PostgreSQL: conditional writes, attempts, the reaper."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app import jobstate
from app.db import session_scope, upgrade
from app.tables import Job, utcnow
from tests.app.rows import job_row, new_job

pytestmark = pytest.mark.integration


@pytest.fixture()
def db(postgres_url):
    upgrade(postgres_url)
    return postgres_url


def make_job(url: str, status: str = "running", **fields) -> uuid.UUID:
    return new_job(url, status=status, **fields)


def status_of(url: str, job_id: uuid.UUID) -> str:
    return job_row(url, job_id).status


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
    job_id = make_job(db, next_stage="separate")
    with session_scope(db) as session:
        # silent_after=0: every earlier start's worker counts as dead, as after a crash
        for _ in range(jobstate.MAX_STAGE_ATTEMPTS):
            assert jobstate.begin_stage(session, job_id, "separate", 0.25, silent_after=0)
        with pytest.raises(jobstate.TooManyAttemptsError):
            jobstate.begin_stage(session, job_id, "separate", 0.25, silent_after=0)


def test_moving_to_the_next_stage_resets_the_attempts(db):
    job_id = make_job(db, next_stage="ingest")
    with session_scope(db) as session:
        jobstate.begin_stage(session, job_id, "ingest", 0.0)
        jobstate.begin_stage(session, job_id, "ingest", 0.0, silent_after=0)
        jobstate.save_stage_output(session, job_id, "ingest", {}, next_stage="separate")
        jobstate.begin_stage(session, job_id, "separate", 0.25)
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 1 and job.stage == "separate"


def test_a_stage_output_and_its_successor_due_are_one_write(db):
    job_id = make_job(db, next_stage="ingest")
    with session_scope(db) as session:
        jobstate.begin_stage(session, job_id, "ingest", 0.0)
        job = session.get(Job, job_id)
        assert job is not None and job.next_stage is None and job.heartbeat_at is not None
        jobstate.save_stage_output(session, job_id, "ingest", {"a": 1}, next_stage="separate")
        session.refresh(job)
        assert (job.next_stage, job.dispatched_at, job.heartbeat_at) == ("separate", None, None)


def test_duplicate_and_late_stage_messages_are_dropped(db):
    job_id = make_job(db, next_stage="ingest")
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0)
        # a second copy of the message while a live worker runs the stage
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0) is None
        jobstate.save_stage_output(session, job_id, "ingest", {}, next_stage="separate")
        # a late copy once the stage is done, and a message for a stage not due
        assert jobstate.begin_stage(session, job_id, "ingest", 0.0, silent_after=0) is None
        assert jobstate.begin_stage(session, job_id, "detect", 0.5, silent_after=0) is None
        assert jobstate.begin_stage(session, job_id, "separate", 0.25)
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 1


def test_saving_a_stage_output_twice_keeps_one_row(db):
    job_id = make_job(db)
    with session_scope(db) as session:
        jobstate.save_stage_output(session, job_id, "ingest", {"report": {"a": 1}})
        jobstate.save_stage_output(session, job_id, "ingest", {"report": {"a": 2}})
        assert jobstate.stage_outputs(session, job_id, ["ingest"]) == {
            "ingest": {"report": {"a": 2}}
        }


def test_the_reaper_fails_jobs_silent_mid_stage_but_not_jobs_waiting_for_a_queue(db):
    hours_ago = utcnow() - timedelta(hours=3)
    mid_stage = make_job(db, heartbeat_at=hours_ago, updated_at=hours_ago)
    waiting = make_job(db, heartbeat_at=None, updated_at=hours_ago)
    fresh = make_job(db, heartbeat_at=utcnow())
    queued = make_job(db, status="queued", updated_at=hours_ago)
    with session_scope(db) as session:
        reaped = jobstate.reap_stale_jobs(session, in_stage_seconds=3600, waiting_seconds=86400)
        job = session.get(Job, mid_stage)
        assert job is not None and job.error is not None and job.error["code"] == "worker_lost"
    assert mid_stage in reaped and waiting not in reaped
    assert [status_of(db, j) for j in (mid_stage, waiting, fresh, queued)] == [
        "failed",
        "running",
        "running",
        "queued",
    ]


def test_a_job_waiting_between_stages_past_the_limit_has_lost_its_message(db):
    waiting = make_job(db, heartbeat_at=None, updated_at=utcnow() - timedelta(days=2))
    with session_scope(db) as session:
        assert waiting in jobstate.reap_stale_jobs(
            session, in_stage_seconds=3600, waiting_seconds=86400
        )
    assert status_of(db, waiting) == "failed"


def test_a_queued_job_whose_first_stage_waited_past_the_limit_has_lost_its_message(db):
    days_ago = utcnow() - timedelta(days=2)
    lost = make_job(db, status="queued", next_stage="ingest", updated_at=days_ago)
    unstarted = make_job(db, status="queued", updated_at=days_ago)
    with session_scope(db) as session:
        reaped = jobstate.reap_stale_jobs(session, in_stage_seconds=3600, waiting_seconds=86400)
    assert lost in reaped and unstarted not in reaped
    assert (status_of(db, lost), status_of(db, unstarted)) == ("failed", "queued")


def test_a_queued_job_whose_first_stage_is_due_is_the_publishers_not_resent_as_a_start(db):
    hour_ago = utcnow() - timedelta(hours=1)
    due = make_job(db, status="queued", next_stage="ingest", updated_at=hour_ago)
    with session_scope(db) as session:
        assert due not in jobstate.queued_too_long(session, seconds=300)


def test_queued_jobs_left_untouched_are_claimed_once_for_a_resend(db):
    stuck = make_job(db, status="queued", updated_at=utcnow() - timedelta(minutes=10))
    recent = make_job(db, status="queued")
    with session_scope(db) as session:
        first = jobstate.queued_too_long(session, seconds=300)
        again = jobstate.queued_too_long(session, seconds=300)
    assert stuck in first and recent not in first
    assert stuck not in again


def test_a_stage_retried_after_a_transient_error_runs_and_is_not_counted_as_a_crash(db):
    job_id = make_job(db, next_stage="detect")
    with session_scope(db) as session:
        jobstate.begin_stage(session, job_id, "detect", 0.5)
        for _ in range(5):
            assert jobstate.begin_stage(session, job_id, "detect", 0.5, count_attempt=False)
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 1


def test_two_workers_saving_the_same_stage_at_once_leave_one_row(db):
    import threading

    job_id = make_job(db)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(value: int) -> None:
        try:
            with session_scope(db) as session:
                barrier.wait()
                jobstate.save_stage_output(session, job_id, "separate", {"report": {"v": value}})
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(v,)) for v in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(db) as session:
        outputs = jobstate.stage_outputs(session, job_id, ["separate"])
    assert outputs["separate"]["report"]["v"] in (1, 2)

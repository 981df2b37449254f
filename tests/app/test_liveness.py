"""A stage whose process is gone runs again at once (app/liveness.py, the redelivery rule in
app/jobstate.py, the publisher's rule in app/handoff.py), on the embedded database."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import update

from app import handoff, jobstate, liveness, workerbeats
from app.db import session_scope
from app.tables import WorkerBeat, utcnow
from tests.app.rows import job_row, new_job


@pytest.fixture()
def db(migrated_settings):
    return migrated_settings.database_url


@pytest.fixture()
def gone() -> str:
    """The identity of a process of this machine that has exited."""
    child = subprocess.Popen(["true"])
    identity = liveness.process_identity(child.pid)
    child.wait()
    return identity


def test_this_process_is_not_gone():
    assert not liveness.is_gone(liveness.process_identity())


def test_an_exited_process_is_gone(gone):
    assert liveness.is_gone(gone)


def test_a_reused_pid_with_another_start_time_is_gone():
    host_ns, pid, start = liveness.process_identity().rsplit(":", 2)
    assert liveness.is_gone(f"{host_ns}:{pid}:{int(start) + 1}")


@pytest.mark.parametrize(
    "identity",
    [None, "", "worker-7", "another-host:pid[1]:12:34", "another-host:pid[1]:12:"],
)
def test_what_cannot_be_judged_here_is_never_gone(identity):
    assert not liveness.is_gone(identity)


def test_a_redelivered_stage_whose_process_is_gone_runs_despite_a_fresh_heartbeat(db, gone):
    job_id = new_job(db, status="running", stage="detect", heartbeat_at=utcnow(), worker=gone)
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, job_id, "detect", 0.5) is not None
    job = job_row(db, job_id)
    assert (job.attempts, job.worker) == (1, liveness.owner_identity())
    assert liveness.parent_of(job.worker) == liveness.process_identity(os.getppid())


def test_a_redelivered_stage_whose_process_lives_is_a_duplicate(db):
    mine = liveness.process_identity()
    job_id = new_job(db, status="running", stage="detect", heartbeat_at=utcnow(), worker=mine)
    with session_scope(db) as session:
        assert jobstate.begin_stage(session, job_id, "detect", 0.5) is None


def test_the_publisher_makes_a_stage_whose_process_is_gone_due_at_once(db, gone):
    orphan = new_job(db, status="running", stage="separate", heartbeat_at=utcnow(), worker=gone)
    alive = new_job(
        db,
        status="running",
        stage="separate",
        heartbeat_at=utcnow(),
        worker=liveness.process_identity(),
    )
    with session_scope(db) as session:
        assert handoff.recover_orphaned(session, silent_after=None) == [orphan]
    assert (job_row(db, orphan).next_stage, job_row(db, alive).next_stage) == ("separate", None)


ELSEWHERE = "other-host:pid[1]:77:5|other-host:pid[1]:7:3"  # a pool child | its worker


def test_a_stage_whose_worker_elsewhere_stopped_beating_is_due_again(db):
    job_id = new_job(db, status="running", stage="detect", heartbeat_at=utcnow(), worker=ELSEWHERE)
    with session_scope(db) as session:
        workerbeats.record_beat(session, "other-host:pid[1]:7:3", ["gpu"])
        session.execute(update(WorkerBeat).values(seen_at=utcnow() - timedelta(seconds=31)))
        session.commit()
        assert handoff.recover_orphaned(session, silent_after=None) == []
        assert handoff.recover_orphaned(session, silent_after=30) == [job_id]


def test_a_stage_whose_worker_elsewhere_beats_is_left_alone(db):
    new_job(db, status="running", stage="detect", heartbeat_at=utcnow(), worker=ELSEWHERE)
    with session_scope(db) as session:
        workerbeats.record_beat(session, "other-host:pid[1]:7:3", ["gpu"])
        assert handoff.recover_orphaned(session, silent_after=30) == []


def test_the_takeover_watch_sees_only_a_running_stage_of_a_silent_worker(db):
    with session_scope(db) as session:
        workerbeats.record_beat(session, "other-host:pid[1]:7:3", ["gpu"])
        assert not workerbeats.orphaned_by_silent(session, silent_after=10)  # no stage at all
    job_id = new_job(db, status="running", stage="detect", heartbeat_at=utcnow(), worker=ELSEWHERE)
    with session_scope(db) as session:
        assert not workerbeats.orphaned_by_silent(session, silent_after=10)  # it beats
        session.execute(update(WorkerBeat).values(seen_at=utcnow() - timedelta(seconds=11)))
        session.commit()
        assert workerbeats.orphaned_by_silent(session, silent_after=10)
        assert handoff.recover_orphaned(session, silent_after=10) == [job_id]
        # taken over: the stage is due again, no longer running in the dead worker
        assert not workerbeats.orphaned_by_silent(session, silent_after=10)


def test_the_takeover_watch_matches_the_worker_exactly_not_as_a_pattern(db):
    # '_' and '%' are LIKE wildcards: a silent worker "h_st:..." must not claim "host:..."'s stage
    new_job(db, status="running", stage="detect", heartbeat_at=utcnow(), worker="c|host:ns:7:3")
    with session_scope(db) as session:
        workerbeats.record_beat(session, "h_st:ns:7:3", ["gpu"])
        workerbeats.record_beat(session, "%", ["gpu"])
        session.execute(update(WorkerBeat).values(seen_at=utcnow() - timedelta(seconds=11)))
        session.commit()
        assert not workerbeats.orphaned_by_silent(session, silent_after=10)

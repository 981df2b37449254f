"""Worker beats (app/workerbeats.py) and what /metrics makes of them: a worker that died is
counted silent until it is forgotten; on the embedded database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app import workerbeats
from app.db import session_scope
from app.tables import WorkerBeat, utcnow


@pytest.fixture()
def db(migrated_settings):
    return migrated_settings.database_url


def age(url: str, identity: str, seconds: float) -> None:
    with session_scope(url) as session:
        session.execute(
            update(WorkerBeat)
            .where(WorkerBeat.identity == identity)
            .values(seen_at=utcnow() - timedelta(seconds=seconds))
        )


def census(url: str) -> dict[tuple[str, str], int]:
    with session_scope(url) as session:
        return dict(workerbeats.census(session, silent_after=30))


def test_a_beating_worker_is_alive_on_each_of_its_queues(db):
    with session_scope(db) as session:
        workerbeats.record_beat(session, "h:ns:1:9", ["cpu", "cpu-batch"])
        workerbeats.record_beat(session, "h:ns:1:9", ["cpu", "cpu-batch"])
    assert census(db) == {("cpu", "alive"): 1, ("cpu-batch", "alive"): 1}


def test_a_worker_that_stopped_beating_is_silent(db):
    with session_scope(db) as session:
        workerbeats.record_beat(session, "gpu-worker", ["gpu"])
        workerbeats.record_beat(session, "cpu-worker", ["cpu"])
    age(db, "gpu-worker", 31)
    assert census(db) == {("gpu", "silent"): 1, ("cpu", "alive"): 1}


def test_a_worker_silent_for_an_hour_is_forgotten_at_the_next_beat(db):
    with session_scope(db) as session:
        workerbeats.record_beat(session, "dead", ["gpu"])
    age(db, "dead", workerbeats.FORGET_AFTER_SECONDS + 1)
    with session_scope(db) as session:
        workerbeats.record_beat(session, "alive", ["gpu"])
    assert census(db) == {("gpu", "alive"): 1}


def test_a_worker_that_stops_cleanly_is_not_counted(db):
    with session_scope(db) as session:
        workerbeats.record_beat(session, "leaving", ["cpu"])
        workerbeats.forget(session, "leaving")
    assert census(db) == {}


def test_metrics_show_a_dead_worker(client, migrated_settings):
    with session_scope(migrated_settings.database_url) as session:
        workerbeats.record_beat(session, "gpu-1", ["gpu"])
    age(migrated_settings.database_url, "gpu-1", 3600 - 1)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'soundscape_workers{queue="gpu",state="silent"} 1.0' in text

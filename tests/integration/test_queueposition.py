"""Queue positions (app/queueposition.py) on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.db import session_scope, upgrade
from app.queueposition import queue_position
from app.tables import Batch, Job, utcnow
from tests.app.rows import new_job, new_tenant

pytestmark = pytest.mark.integration


@pytest.fixture()
def db(postgres_url):
    upgrade(postgres_url)
    with session_scope(postgres_url) as session:
        session.query(Job).delete()  # positions count every tenant's queued jobs
        session.commit()
    return postgres_url


def position(url: str, job_id: uuid.UUID) -> int | None:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return queue_position(session, job)


def new_batch(url: str, tenant_id: uuid.UUID) -> uuid.UUID:
    with session_scope(url) as session:
        batch = Batch(tenant_id=tenant_id)
        session.add(batch)
        session.commit()
        return batch.id


def test_queued_jobs_are_numbered_in_submission_order_across_tenants(db):
    start = utcnow() - timedelta(minutes=5)
    jobs = [new_job(db, created_at=start + timedelta(seconds=i)) for i in range(3)]
    assert [position(db, j) for j in jobs] == [1, 2, 3]


def test_jobs_that_started_or_ended_do_not_count_and_have_no_position(db):
    start = utcnow() - timedelta(minutes=5)
    running = new_job(db, status="running", stage="ingest", created_at=start)
    done = new_job(db, status="succeeded", created_at=start + timedelta(seconds=1))
    waiting = new_job(db, created_at=start + timedelta(seconds=2))
    assert (position(db, running), position(db, done), position(db, waiting)) == (None, None, 1)


def test_a_batch_item_waits_behind_every_queued_interactive_job(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id)
    start = utcnow() - timedelta(minutes=5)
    item = new_job(db, tenant_id, batch_id=batch_id, created_at=start)
    single = new_job(db, created_at=start + timedelta(seconds=1))
    later_item = new_job(db, tenant_id, batch_id=batch_id, created_at=start + timedelta(seconds=2))
    assert (position(db, single), position(db, item), position(db, later_item)) == (1, 2, 3)

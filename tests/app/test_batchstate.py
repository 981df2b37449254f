"""The batch-state rules (app/batchstate.py), one by one, on the embedded default's database."""

from __future__ import annotations

import uuid

import pytest

from app import batchstate
from app.db import session_scope
from app.tables import Batch, BatchItem
from tests.app.rows import job_row, new_job, new_tenant


@pytest.fixture()
def db(migrated_settings):
    return migrated_settings.database_url


def new_batch(url: str, tenant_id: uuid.UUID, items: int, status: str = "open") -> uuid.UUID:
    with session_scope(url) as session:
        batch = Batch(tenant_id=tenant_id, status=status, item_count=items)
        session.add(batch)
        session.flush()
        for seq in range(items):
            source = {"kind": "url", "url": f"https://x.test/{seq}"}
            session.add(BatchItem(batch_id=batch.id, seq=seq, source=source))
        return batch.id


def item_statuses(url: str, batch_id: uuid.UUID) -> list[str]:
    with session_scope(url) as session:
        items = session.query(BatchItem).filter_by(batch_id=batch_id).order_by(BatchItem.seq)
        return [item.status for item in items]


def dispatch(url: str, tenant_id: uuid.UUID, cap: int) -> list[uuid.UUID]:
    with session_scope(url) as session:
        return batchstate.dispatch(session, tenant_id, cap)


def test_dispatch_makes_no_more_jobs_than_the_cap(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=5)
    assert len(dispatch(db, tenant_id, cap=2)) == 2
    assert item_statuses(db, batch_id) == ["queued", "queued", "pending", "pending", "pending"]


def test_dispatch_counts_the_jobs_already_in_flight_against_the_cap(db):
    tenant_id = new_tenant(db)
    new_batch(db, tenant_id, items=3)
    dispatch(db, tenant_id, cap=2)
    assert dispatch(db, tenant_id, cap=2) == []


def test_dispatch_serves_the_oldest_batch_first(db):
    tenant_id = new_tenant(db)
    older = new_batch(db, tenant_id, items=2)
    newer = new_batch(db, tenant_id, items=2)
    dispatch(db, tenant_id, cap=2)
    assert (item_statuses(db, older), item_statuses(db, newer)) == (
        ["queued", "queued"],
        ["pending", "pending"],
    )


def test_a_dispatched_item_becomes_a_queued_job_of_its_batch(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=1)
    (job_id,) = dispatch(db, tenant_id, cap=1)
    job = job_row(db, job_id)
    assert (job.status, job.batch_id, job.source["url"]) == ("queued", batch_id, "https://x.test/0")


def test_only_an_open_batch_can_be_closed(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=0)
    with session_scope(db) as session:
        assert batchstate.close(session, batch_id)
        assert not batchstate.close(session, batch_id)


def test_a_closed_batch_is_not_done_while_an_item_waits(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=1, status="running")
    with session_scope(db) as session:
        assert not batchstate.finish_if_done(session, batch_id)


def test_a_closed_batch_whose_jobs_ended_completes_once(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=0, status="running")
    new_job(db, tenant_id, batch_id=batch_id, status="succeeded")
    with session_scope(db) as session:
        assert batchstate.finish_if_done(session, batch_id)
        assert not batchstate.finish_if_done(session, batch_id)


def test_an_open_batch_is_never_completed(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=0)
    with session_scope(db) as session:
        assert not batchstate.finish_if_done(session, batch_id)


def test_canceling_a_batch_cancels_its_waiting_items_and_live_jobs(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=2)
    (job_id,) = dispatch(db, tenant_id, cap=1)
    with session_scope(db) as session:
        batch = session.get(Batch, batch_id)
        assert batchstate.cancel(session, batch) == [job_id]
    assert item_statuses(db, batch_id) == ["queued", "canceled"]
    assert job_row(db, job_id).status == "canceled"


def test_a_batch_that_ended_cannot_be_canceled(db):
    tenant_id = new_tenant(db)
    batch_id = new_batch(db, tenant_id, items=0, status="completed")
    with session_scope(db) as session:
        assert batchstate.cancel(session, session.get(Batch, batch_id)) is None

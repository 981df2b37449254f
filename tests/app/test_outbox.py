"""The webhook outbox (app/outbox.py): events written with the state change that causes
them, claimed with a lease, each attempt logged before and after; on the embedded database."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from app import batchstate, jobstate, outbox
from app.db import session_scope
from app.outbound import AttemptResult
from app.tables import Batch, WebhookAttempt, WebhookEvent
from tests.app.rows import new_job, new_tenant

HOOK = "https://client.test/hooks"
OK, REFUSED = AttemptResult(204, None, 12), AttemptResult(500, "HTTP 500", 30)


@pytest.fixture()
def db(migrated_settings):
    return migrated_settings.database_url


def events(url: str) -> list[tuple[str, str, str, int]]:
    with session_scope(url) as session:
        rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at)).all()
        return [(e.message_id, e.event, e.status, e.attempts) for e in rows]


def attempt_rows(url: str) -> list[tuple[int, int | None, bool]]:
    with session_scope(url) as session:
        rows = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.attempt)).all()
        return [(a.attempt, a.status_code, a.finished_at is not None) for a in rows]


def claim(url: str, lease: float = 60.0) -> outbox.Claim | None:
    with session_scope(url) as session:
        return outbox.claim_next(session, lease)


def test_a_failed_job_with_a_webhook_url_gets_its_event_in_the_same_commit(db):
    job_id = new_job(db, status="running", webhook_url=HOOK)
    with session_scope(db) as session:
        assert jobstate.fail_job(session, job_id, {"code": "corrupt_audio"})
    assert events(db) == [(f"msg_{job_id}_failed", "job.failed", "pending", 0)]


def test_a_job_without_a_webhook_url_gets_no_event(db):
    job_id = new_job(db, status="running")
    with session_scope(db) as session:
        assert jobstate.succeed_job(session, job_id, {"verdict": "inconclusive"})
    assert events(db) == []


def test_a_transition_that_did_not_happen_adds_no_event(db):
    job_id = new_job(db, status="canceled", webhook_url=HOOK)
    with session_scope(db) as session:
        assert not jobstate.fail_job(session, job_id, {"code": "worker_lost"})
    assert events(db) == []


def test_recording_an_event_again_keeps_the_first_row_as_it_is(db):
    job_id = new_job(db, status="running", webhook_url=HOOK)
    with session_scope(db) as session:
        jobstate.cancel_job(session, job_id)
    taken = claim(db)
    assert taken is not None
    with session_scope(db) as session:
        outbox.finish(session, taken, OK, None)
        outbox.record_job_events(session, [job_id])
        session.commit()
    assert events(db) == [(f"msg_{job_id}_canceled", "job.canceled", "delivered", 1)]


def test_a_claim_logs_its_attempt_before_the_send_and_leases_the_event(db):
    job_id = new_job(db, status="running", webhook_url=HOOK)
    with session_scope(db) as session:
        jobstate.cancel_job(session, job_id)
    taken = claim(db)
    assert taken is not None and (taken.attempt, taken.url) == (1, HOOK)
    assert attempt_rows(db) == [(1, None, False)]
    assert claim(db) is None  # leased: no second sender takes it meanwhile


def test_a_sender_that_died_mid_send_leaves_its_attempt_and_the_event_comes_back(db):
    job_id = new_job(db, status="running", webhook_url=HOOK)
    with session_scope(db) as session:
        jobstate.cancel_job(session, job_id)
    assert claim(db, lease=0.2) is not None  # and the sender dies here
    time.sleep(0.3)
    again = claim(db)
    assert again is not None and again.message_id == f"msg_{job_id}_canceled"
    with session_scope(db) as session:
        outbox.finish(session, again, OK, None)
    assert attempt_rows(db) == [(1, None, False), (2, 204, True)]


def test_a_refused_delivery_is_due_again_after_its_backoff(db):
    job_id = new_job(db, status="running", webhook_url=HOOK)
    with session_scope(db) as session:
        jobstate.cancel_job(session, job_id)
        taken = outbox.claim_next(session, 60.0)
        assert taken is not None
        outbox.finish(session, taken, REFUSED, retry_in=0.2)
    assert claim(db) is None
    time.sleep(0.3)
    assert (claim(db) or pytest.fail("not due again")).attempt == 2
    assert attempt_rows(db)[0] == (1, 500, True)


def test_the_last_refused_attempt_abandons_the_event(db):
    job_id = new_job(db, status="running", webhook_url=HOOK)
    with session_scope(db) as session:
        jobstate.cancel_job(session, job_id)
        taken = outbox.claim_next(session, 60.0)
        assert taken is not None
        outbox.finish(session, taken, REFUSED, retry_in=None)
    assert [e[2] for e in events(db)] == ["abandoned"]
    assert claim(db) is None


def test_a_completed_batch_gets_its_event(db):
    tenant_id = new_tenant(db)
    batch_id = uuid.uuid4()
    with session_scope(db) as session:
        session.add(Batch(id=batch_id, tenant_id=tenant_id, status="running", webhook_url=HOOK))
    with session_scope(db) as session:
        assert batchstate.finish_if_done(session, batch_id)
    assert events(db) == [(f"msg_{batch_id}_completed", "batch.completed", "pending", 0)]

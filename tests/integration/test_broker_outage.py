"""A worker outlives its broker: the CPU and GPU workers, started with the options
docker/entrypoint.sh gives them, on a throwaway Redis that a test kills while the CPU worker
holds a stage in flight. The same worker processes then finish the jobs."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import select

from app.db import session_scope
from app.services.tenants import create_key
from app.tables import WebhookAttempt
from tests.conftest import SPEECH
from tests.integration.conftest import (
    PG_ADMIN_URL,
    LocalServer,
    Stack,
    stack_env,
    start_roles,
    wait_until,
)
from tests.integration.test_service import excerpt, poll, submit_file

pytestmark = pytest.mark.integration

FAST_RECOVERY = {
    "dispatch_interval_seconds": "2",
    "heartbeat_interval_seconds": "1",
    "heartbeat_timeout_seconds": "10",
    "transient_retry_seconds": "300",
}


class HeldSource(LocalServer):
    """A client's file server that sends half the file, then holds the download open until
    ``release`` is set: the ingest stage stays in flight on the CPU worker meanwhile."""

    def __init__(self, body: bytes) -> None:
        self.started = threading.Event()
        held = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                held.started.set()
                held.release.wait(120)
                self.wfile.write(body[len(body) // 2 :])

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(Handler, "/track.wav")


@pytest.fixture(scope="module")
def deployed(database, broker, s3_endpoint, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("outage-stack")
    env = stack_env(data_dir, database, f"{broker.url}/0", s3_endpoint, **FAST_RECOVERY)
    running = start_roles(env, data_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(deployed: Stack) -> str:
    return create_key(deployed.settings.database_url, f"outage-{uuid.uuid4().hex[:6]}")


class Receiver(LocalServer):
    """A client's webhook endpoint: records every delivery and answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append((headers, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(Handler, "/hooks")

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]


def submit_url(stack: Stack, key: str, url: str, webhook_url: str | None = None) -> str:
    response = requests.post(
        f"{stack.api_url}/v1/jobs",
        json={"source": {"url": url}, **({"webhook_url": webhook_url} if webhook_url else {})},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def exited(stack: Stack) -> dict[str, int | None]:
    return {role: proc.returncode for role, proc in stack.roles.items() if proc.poll() is not None}


def ended_or_exited(stack: Stack, key: str, job_id: str) -> dict[str, Any] | None:
    """The job once it ended, or anything as soon as a worker exited (it would never end)."""
    if exited(stack):
        return {"status": "a worker exited"}
    job = requests.get(
        f"{stack.api_url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).json()
    return dict(job) if job["status"] in ("succeeded", "failed", "canceled") else None


def test_the_workers_outlive_a_redis_outage_with_a_stage_in_flight(
    deployed, broker, key, audio_dir, tmp_path
):
    body = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 5, ".wav").read_bytes()
    with HeldSource(body) as source:
        job_id = submit_url(deployed, key, source.url)
        wait_until(source.started.is_set, 120, "ingest to start downloading")
        broker.stop()  # ingest's message is in flight, unacknowledged, on the CPU worker
        time.sleep(5)
        broker.start()  # empty: whatever the broker held is gone
        back = time.monotonic()
        source.release.set()
        job = wait_until(lambda: ended_or_exited(deployed, key, job_id), 300, "the job to end")
    assert exited(deployed) == {}, "a worker exited after Redis went away (see its log)"
    print(f"\nRedis down 5 s mid-ingest: job finished {time.monotonic() - back:.1f} s after")
    assert job["status"] == "succeeded", job["error"]
    after = submit_file(deployed, key, excerpt(audio_dir, tmp_path, SPEECH[1], 0, 4))
    assert poll(deployed, key, after["id"], {"succeeded", "failed"})["status"] == "succeeded"
    assert exited(deployed) == {}


def test_a_cancel_while_redis_is_down_is_answered_and_kept(
    deployed, broker, key, audio_dir, tmp_path
):
    body = excerpt(audio_dir, tmp_path, SPEECH[2], 0, 4, ".wav").read_bytes()
    with HeldSource(body) as source, Receiver() as receiver:
        job_id = submit_url(deployed, key, source.url, receiver.url)
        wait_until(source.started.is_set, 120, "ingest to start downloading")
        broker.stop()
        try:
            response = requests.post(
                f"{deployed.api_url}/v1/jobs/{job_id}/cancel",
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
        finally:
            broker.start()
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "canceled"
        event = f"msg_{job_id}_canceled"
        wait_until(lambda: event in receiver.ids(), 60, "the job.canceled webhook")
        time.sleep(3)  # a second delivery would come within a dispatch round
    assert poll(deployed, key, job_id, {"canceled"}, timeout=10)["result"] is None
    assert receiver.ids() == [event]
    assert receiver.received[0][1]["type"] == "job.canceled"
    assert attempts(deployed, event) == [(1, 204, True)]


def attempts(stack: Stack, message_id: str) -> list[tuple[int, int | None, bool]]:
    """(attempt, HTTP status, finished) of every logged attempt of one event."""
    with session_scope(stack.settings.database_url) as session:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.message_id == message_id)
            .order_by(WebhookAttempt.attempt)
        ).all()
        return [(row.attempt, row.status_code, row.finished_at is not None) for row in rows]


def hold_output(database: str, job_id: str, stage: str) -> psycopg.Connection[Any]:
    """Hold the write of a stage's output: an uncommitted row of that (job, stage) makes the
    worker's insert wait on the unique key until the returned connection rolls back. Foreign
    keys are not checked on this connection, so no lock on the job row blocks its stages."""
    conn = psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://"))
    conn.execute("SET session_replication_role = replica")
    conn.execute(
        "INSERT INTO stage_results (id, job_id, stage, output, created_at)"
        " VALUES (%s, %s, %s, '{}', now())",
        (uuid.uuid4(), uuid.UUID(job_id), stage),
    )
    return conn


def waits_on_a_lock(database: str) -> bool:
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (name,),
        ).fetchone()
    return bool(row and row[0])


def test_redis_down_when_finalize_ends_the_webhook_still_arrives(
    deployed, broker, database, key, audio_dir, tmp_path
):
    path = excerpt(audio_dir, tmp_path, SPEECH[1], 0, 4)
    with Receiver() as receiver:
        job_id = submit_file(deployed, key, path, {"webhook_url": receiver.url})["id"]
        held = hold_output(database, job_id, "finalize")
        try:
            wait_until(lambda: waits_on_a_lock(database), 240, "finalize to wait on its write")
            broker.stop()  # finalize is computed; its output, success and webhook are next
        finally:
            held.rollback()
            held.close()
        try:
            event = f"msg_{job_id}_succeeded"
            wait_until(lambda: event in receiver.ids(), 60, "the job.succeeded webhook")
            time.sleep(3)  # a second delivery would come within a dispatch round
        finally:
            broker.start()
    assert poll(deployed, key, job_id, {"succeeded"}, timeout=10)["result"]["verdict"]
    assert receiver.ids() == [event]
    assert receiver.received[0][1]["data"]["status"] == "succeeded"
    assert attempts(deployed, event) == [(1, 204, True)]
    assert exited(deployed) == {}

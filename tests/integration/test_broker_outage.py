"""A worker outlives its broker: the CPU and GPU workers, started with the options
docker/entrypoint.sh gives them, on a throwaway Redis that a test kills while the CPU worker
holds a stage in flight. The same worker processes then finish the jobs."""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from app.db import get_engine
from app.services.tenants import create_key
from tests.conftest import SPEECH
from tests.integration.conftest import PG_ADMIN_URL, Stack, stack_env, start_stack, wait_until
from tests.integration.test_service import excerpt, poll, submit_file
from tests.servers import RedisServer

pytestmark = pytest.mark.integration

FAST_RECOVERY = {
    "dispatch_interval_seconds": "2",
    "heartbeat_interval_seconds": "1",
    "heartbeat_timeout_seconds": "10",
    "transient_retry_seconds": "300",
}
ROLES = ("worker-cpu", "worker-gpu")


class HeldSource(http.server.BaseHTTPRequestHandler):
    """A client's file server that sends half the file, then holds the download open until
    ``release`` is set: the ingest stage stays in flight on the CPU worker meanwhile."""

    body = b""
    started = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        half = len(self.body) // 2
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[:half])
        self.wfile.flush()
        type(self).started.set()
        type(self).release.wait(120)
        self.wfile.write(self.body[half:])

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def broker() -> Iterator[RedisServer]:
    folder = Path(tempfile.mkdtemp(prefix="soundscape-outage-"))
    server = RedisServer(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of this module's own: another stack's publisher must not send its jobs'
    stages to another broker."""
    name = f"soundscape_outage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    server = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
    yield f"{server}/{name}"
    get_engine.cache_clear()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def deployed(database, broker, s3_endpoint, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("outage-stack")
    env = stack_env(data_dir, database, f"{broker.url}/0", s3_endpoint, **FAST_RECOVERY)
    running = start_stack(env, data_dir, worker=False)
    for role in ROLES:
        running.start_role(role)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(deployed: Stack) -> str:
    return create_key(deployed.settings.database_url, f"outage-{uuid.uuid4().hex[:6]}")


def submit_url(stack: Stack, key: str, url: str) -> str:
    response = requests.post(
        f"{stack.api_url}/v1/jobs",
        json={"source": {"url": url}},
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
    HeldSource.body = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 5, ".wav").read_bytes()
    source = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeldSource)
    threading.Thread(target=source.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{source.server_address[1]}/track.wav"
        job_id = submit_url(deployed, key, url)
        wait_until(HeldSource.started.is_set, 120, "ingest to start downloading")
        broker.stop()  # ingest's message is in flight, unacknowledged, on the CPU worker
        time.sleep(5)
        broker.start()  # empty: whatever the broker held is gone
        back = time.monotonic()
        HeldSource.release.set()
        job = wait_until(lambda: ended_or_exited(deployed, key, job_id), 300, "the job to end")
    finally:
        HeldSource.release.set()
        source.shutdown()
    assert exited(deployed) == {}, "a worker exited after Redis went away (see its log)"
    print(f"\nRedis down 5 s mid-ingest: job finished {time.monotonic() - back:.1f} s after")
    assert job["status"] == "succeeded", job["error"]
    after = submit_file(deployed, key, excerpt(audio_dir, tmp_path, SPEECH[1], 0, 4))
    assert poll(deployed, key, after["id"], {"succeeded", "failed"})["status"] == "succeeded"
    assert exited(deployed) == {}

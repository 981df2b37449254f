"""Faults on real servers that this module starts, stops and restarts itself (never the
shared ones): Redis down when a stage hands off, PostgreSQL down for 100 s mid-stage,
S3 down at submit. Each job finishes exactly once; each recovery time is printed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.db import get_engine, session_scope
from app.services.tenants import create_key
from app.tables import Job, StageResult
from tests.conftest import SPEECH
from tests.integration.conftest import (
    Stack,
    _answers,
    free_port,
    stack_env,
    start_stack,
    wait_until,
)
from tests.integration.test_service import excerpt, poll, submit_file
from tests.servers import PostgresServer, RedisServer
from workers.stages import STAGES

STAGE_NAMES = [stage.name for stage in STAGES]
AFTER_DETECT = STAGE_NAMES[STAGE_NAMES.index("detect") + 1]

pytestmark = pytest.mark.integration

# Quick recovery for tests: a dispatch round every 2 s, a stage silent for 10 s is rerun.
FAST_RECOVERY = {
    "dispatch_interval_seconds": "2",
    "heartbeat_interval_seconds": "1",
    "heartbeat_timeout_seconds": "10",
    "redispatch_after_seconds": "60",
    "transient_retry_seconds": "300",
}


class Servers:
    def __init__(self, folder: Path) -> None:
        self.postgres = PostgresServer(folder / "postgres").init().start()
        self.redis = RedisServer(folder / "redis").start()
        self.s3_port = free_port()
        self.s3: subprocess.Popen[bytes] | None = None
        self.start_s3()

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start_s3(self) -> None:
        exe = Path(sys.executable).with_name("moto_server")
        self.s3 = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.s3_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(self.s3_url), 30, "moto_server to start")

    def stop_s3(self) -> None:
        if self.s3 is not None:
            self.s3.terminate()
            self.s3.wait(timeout=10)

    def stop(self) -> None:
        self.stop_s3()
        self.redis.stop()
        self.postgres.stop()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    folder = Path(tempfile.mkdtemp(prefix="soundscape-faults-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder inside
    running = Servers(folder)
    yield running
    running.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def fault_stack(servers: Servers, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("fault-stack")
    database = servers.postgres.create_database("soundscape")
    env = stack_env(data_dir, database, f"{servers.redis.url}/0", servers.s3_url, **FAST_RECOVERY)
    running = start_stack(env, data_dir)
    yield running
    running.stop()
    get_engine.cache_clear()


@pytest.fixture(scope="module")
def key(fault_stack: Stack) -> str:
    return create_key(fault_stack.settings.database_url, f"faults-{uuid.uuid4().hex[:6]}")


def job_row(stack: Stack, job_id: str) -> Job | None:
    try:
        with session_scope(stack.settings.database_url) as session:
            return session.get(Job, uuid.UUID(job_id))
    except Exception:  # noqa: BLE001 - the database may be the thing that is down
        return None


def in_stage(stack: Stack, job_id: str, stage: str) -> bool:
    job = job_row(stack, job_id)
    return job is not None and job.stage == stage and job.heartbeat_at is not None


def stage_rows(stack: Stack, job_id: str) -> dict[str, int]:
    with session_scope(stack.settings.database_url) as session:
        rows = session.execute(
            select(StageResult.stage, func.count())
            .where(StageResult.job_id == uuid.UUID(job_id))
            .group_by(StageResult.stage)
        ).all()
    return {stage: count for stage, count in rows}


def finished_once(stack: Stack, key: str, job_id: str, since: float, what: str) -> None:
    job = poll(stack, key, job_id, {"succeeded", "failed", "canceled"}, timeout=420)
    print(f"\n{what}: job finished {time.monotonic() - since:.1f} s after recovery")
    assert job["status"] == "succeeded", job["error"]
    assert stage_rows(stack, job_id) == {s: 1 for s in STAGE_NAMES}


def test_redis_down_when_a_stage_finishes_does_not_strand_the_job(
    fault_stack, servers, key, audio_dir, tmp_path
):
    # The speech vocal detector keeps detect busy for seconds, so Redis goes down while it
    # still runs (off, as by default, detect ends within about a second of starting).
    slow_detect = {"options": '{"vocal_detector": true}'}
    path = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 8)
    job_id = submit_file(fault_stack, key, path, slow_detect)["id"]
    wait_until(lambda: in_stage(fault_stack, job_id, "detect"), 240, "detect to run", 0.05)
    servers.redis.stop()
    down_since = time.monotonic()

    def handed_off_but_unsent() -> bool:
        job = job_row(fault_stack, job_id)
        return job is not None and job.next_stage == AFTER_DETECT and job.dispatched_at is None

    try:
        wait_until(handed_off_but_unsent, 120, "detect to finish with its hand-off unsent")
        time.sleep(max(0.0, 17 - (time.monotonic() - down_since)))
    finally:
        servers.redis.start()  # empty: whatever the broker held is gone
    finished_once(fault_stack, key, job_id, time.monotonic(), "Redis down 17 s at hand-off")


def test_postgres_down_100_s_mid_stage_then_the_job_finishes(
    fault_stack, servers, key, audio_dir, tmp_path
):
    job_id = submit_file(fault_stack, key, excerpt(audio_dir, tmp_path, SPEECH[1], 0, 8))["id"]
    wait_until(lambda: in_stage(fault_stack, job_id, "separate"), 240, "separate to run", 0.05)
    servers.postgres.stop()
    down_since = time.monotonic()
    try:
        auth = {"Authorization": f"Bearer {key}"}
        read = requests.get(f"{fault_stack.api_url}/v1/jobs/{job_id}", headers=auth, timeout=30)
        assert read.status_code == 503 and read.json()["code"] == "database_unavailable"
        path = excerpt(audio_dir, tmp_path, SPEECH[2], 0, 3)
        with path.open("rb") as fh:
            submit = requests.post(
                f"{fault_stack.api_url}/v1/jobs", files={"file": fh}, headers=auth, timeout=30
            )
        assert submit.status_code == 503 and submit.json()["code"] == "database_unavailable"
        time.sleep(max(0.0, 100 - (time.monotonic() - down_since)))
    finally:
        servers.postgres.start()
    finished_once(fault_stack, key, job_id, time.monotonic(), "PostgreSQL down 100 s mid-stage")


def test_storage_down_at_submit_is_503_and_keeps_nothing(
    fault_stack, servers, key, audio_dir, tmp_path
):
    servers.stop_s3()
    try:
        path = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 3)
        with path.open("rb") as fh:
            response = requests.post(
                f"{fault_stack.api_url}/v1/jobs",
                files={"file": fh},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
        assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
        with session_scope(fault_stack.settings.database_url) as session:
            assert (
                session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued"))
                == 0
            )
    finally:
        servers.start_s3()

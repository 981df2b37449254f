"""A stage whose worker is gone runs again at once, not after the 120 s heartbeat timeout:
the deployed CPU and GPU workers (docker/entrypoint.sh's options) with the production
heartbeat and visibility settings, the GPU worker killed whole (then restarted, as compose
does; on this machine's PID namespace or in one of its own, as a container) or only its pool
child (as the OOM killer does) in the middle of `separate`."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.db import session_scope
from app.services.tenants import create_key
from app.tables import Job, StageResult
from tests.conftest import SONG
from tests.integration.conftest import Stack, stack_env, start_stack, wait_until
from tests.integration.test_service import excerpt, poll, submit_file
from workers.stages import STAGES

pytestmark = pytest.mark.integration

# The production defaults (app/config.py) where the test stack would shorten them.
PRODUCTION_RECOVERY = {"visibility_timeout": "3600", "heartbeat_timeout_seconds": "120"}
# Without the liveness check and the beats, only the 120 s heartbeat timeout reruns a stage:
# a rerun well before it is the mechanism at work. How long it took is printed (run with -s;
# README Reliability), not asserted: a loaded CI machine is no stopwatch.
BEFORE_HEARTBEAT_SECONDS = 90


@pytest.fixture(scope="module")
def deployed(database, broker, s3_endpoint, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("worker-loss-stack")
    env = stack_env(data_dir, database, f"{broker.url}/0", s3_endpoint, **PRODUCTION_RECOVERY)
    running = start_stack(env, data_dir, worker=False)
    for role in ("worker-cpu", "worker-gpu"):
        running.start_role(role)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(deployed: Stack) -> str:
    return create_key(deployed.settings.database_url, f"loss-{uuid.uuid4().hex[:6]}")


def job_of(stack: Stack, job_id: str) -> Job:
    with session_scope(stack.settings.database_url) as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        session.expunge(job)
        return job


def separating(stack: Stack, job_id: str, attempt: int) -> bool:
    """The job is inside `separate`, in its ``attempt``-th run."""
    job = job_of(stack, job_id)
    return job.stage == "separate" and job.heartbeat_at is not None and job.attempts == attempt


def pool_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def finished_once(stack: Stack, key: str, job_id: str) -> None:
    assert poll(stack, key, job_id, {"succeeded", "failed"}, timeout=420)["status"] == "succeeded"
    with session_scope(stack.settings.database_url) as session:
        rows = session.execute(
            select(StageResult.stage, func.count())
            .where(StageResult.job_id == uuid.UUID(job_id))
            .group_by(StageResult.stage)
        ).all()
    assert dict(rows) == {stage.name: 1 for stage in STAGES}


def rerun_after(stack: Stack, job_id: str, killed: float, what: str) -> float:
    wait_until(lambda: separating(stack, job_id, 2), BEFORE_HEARTBEAT_SECONDS, what, 0.1)
    seconds = time.monotonic() - killed
    print(f"\n{what}: separate ran again {seconds:.1f} s after the kill")
    return seconds


def test_a_killed_gpu_worker_restarted_reruns_its_stage_before_the_heartbeat_timeout(
    deployed, key, audio_dir, tmp_path
):
    job_id = submit_file(deployed, key, excerpt(audio_dir, tmp_path, SONG, 40, 25))["id"]
    wait_until(lambda: separating(deployed, job_id, 1), 240, "separate to run", 0.1)
    worker = deployed.roles["worker-gpu"]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    killed = time.monotonic()
    deployed.start_role("worker-gpu")  # compose's restart policy
    rerun_after(deployed, job_id, killed, "GPU worker killed and restarted")
    finished_once(deployed, key, job_id)
    dead = 'soundscape_workers{queue="gpu",state="silent"} 1.0'
    wait_until(lambda: dead in metrics(deployed), 60, "/metrics to count the dead GPU worker")
    assert 'soundscape_workers{queue="gpu",state="alive"} 1.0' in metrics(deployed)


def metrics(stack: Stack) -> str:
    return requests.get(f"{stack.api_url}/metrics", timeout=10).text


def test_a_killed_pool_child_reruns_its_stage_at_once(deployed, key, audio_dir, tmp_path):
    job_id = submit_file(deployed, key, excerpt(audio_dir, tmp_path, SONG, 70, 25))["id"]
    wait_until(lambda: separating(deployed, job_id, 1), 240, "separate to run", 0.1)
    (child,) = pool_children(deployed.roles["worker-gpu"].pid)
    os.kill(child, signal.SIGKILL)
    killed = time.monotonic()
    rerun_after(deployed, job_id, killed, "GPU pool child killed")
    finished_once(deployed, key, job_id)


def test_a_gpu_worker_killed_in_its_own_container_is_taken_over_by_its_missing_beats(
    deployed, key, audio_dir, tmp_path
):
    # In compose each worker has its own PID namespace, and a restarted container a new one:
    # no other process can see the dead one's pid; only its beats stop.
    own_namespace = ("unshare", "--pid", "--fork", "--mount-proc")
    worker = deployed.roles["worker-gpu"]
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)
    worker = deployed.start_role("worker-gpu", own_namespace)
    job_id = submit_file(deployed, key, excerpt(audio_dir, tmp_path, SONG, 100, 25))["id"]
    wait_until(lambda: separating(deployed, job_id, 1), 240, "separate to run", 0.1)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    killed = time.monotonic()
    deployed.start_role("worker-gpu", own_namespace)
    rerun_after(deployed, job_id, killed, "GPU worker killed in its own PID namespace")
    finished_once(deployed, key, job_id)

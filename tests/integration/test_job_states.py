"""What clients read while jobs wait (issue #22, item 6): one worker with one slot and three
jobs; a job reads ``queued`` with its place in the queue until its first stage begins, then
``running`` with its stage and progress, and the batch counts follow the jobs' states."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from app.services.tenants import create_key
from tests.conftest import SPEECH
from tests.integration.conftest import Stack, stack_env, start_stack
from tests.integration.test_service import excerpt, submit_file

pytestmark = pytest.mark.integration
ENDED = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="module")
def one_slot(database, broker, s3_endpoint, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("one-slot-stack")
    env = stack_env(data_dir, database, f"{broker.url}/0", s3_endpoint)
    running = start_stack(env, data_dir, worker=False)
    running.start_worker("--concurrency", "1")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(one_slot: Stack) -> str:
    return create_key(one_slot.settings.database_url, f"states-{uuid.uuid4().hex[:6]}")


def watch(stack: Stack, key: str, job_ids: list[str], timeout: float = 420) -> list[list[dict]]:
    """Every job's JSON, polled together every 0.2 s until all have ended."""
    seen: list[list[dict]] = [[] for _ in job_ids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for history, job_id in zip(seen, job_ids, strict=True):
            history.append(
                requests.get(
                    f"{stack.api_url}/v1/jobs/{job_id}",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=10,
                ).json()
            )
        if all(history[-1]["status"] in ENDED for history in seen):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"jobs not finished after {timeout:.0f} s: {[h[-1] for h in seen]}")


def test_waiting_jobs_read_queued_with_their_place_until_their_first_stage_begins(
    one_slot, key, audio_dir, tmp_path
):
    tracks = [excerpt(audio_dir, tmp_path, SPEECH[i % len(SPEECH)], i, 5) for i in range(3)]
    job_ids = [submit_file(one_slot, key, path)["id"] for path in tracks]
    seen = watch(one_slot, key, job_ids)
    for history in seen:
        assert history[-1]["status"] == "succeeded", history[-1]["error"]
        statuses = [job["status"] for job in history]
        order = ["queued", "running", "succeeded"]
        assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
        for job in history:
            if job["status"] == "queued":
                assert job["stage"] is None and job["started_at"] is None, job
                assert isinstance(job["queue_position"], int) and job["queue_position"] >= 1, job
            else:
                assert job["queue_position"] is None, job
            if job["status"] == "running":
                assert job["stage"] is not None and job["started_at"] is not None, job
        progress = [job["progress"] for job in history]
        assert progress == sorted(progress)
    # While the first job runs, the other two wait, second and third in line (a round's
    # reads are not one instant: only rounds with the first job still running in the next).
    snapshots = list(zip(*seen, strict=True))
    first_runs = [
        now
        for now, then in zip(snapshots, snapshots[1:], strict=False)
        if now[0]["status"] == then[0]["status"] == "running"
    ]
    assert first_runs
    assert all(
        (s[1]["status"], s[1]["queue_position"], s[2]["status"], s[2]["queue_position"])
        == ("queued", 1, "queued", 2)
        for s in first_runs
    ), [(s[1]["status"], s[2]["status"]) for s in first_runs]
    # The third moves up as the others begin, and stages and progress change as they run.
    places = [job["queue_position"] for job in seen[2] if job["status"] == "queued"]
    assert places == sorted(places, reverse=True) and {1, 2} <= set(places), places
    assert len({job["stage"] for job in seen[0] if job["status"] == "running"}) >= 2

"""Batches on real servers: gunicorn, PostgreSQL, Redis, moto S3 and a Celery worker."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import requests
import soundfile as sf
from sqlalchemy import func, select

from app.cli import batchclient
from app.config import PROJECT_ROOT
from app.db import session_scope
from app.outbound import sign
from app.services.tenants import create_key
from app.tables import ApiKey, Job, Tenant, WebhookAttempt
from tests.integration.conftest import BUCKET, Stack, wait_until

pytestmark = pytest.mark.integration
ENDED = {"completed", "canceled"}


@pytest.fixture(autouse=True)
def worker_running(stack: Stack) -> None:
    stack.ensure_worker()


@pytest.fixture()
def key(stack: Stack) -> str:
    return create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def write_tracks(folder: Path, count: int, seconds: float = 2.0) -> list[Path]:
    """Short stereo chords, each pitched differently (so each has its own sha256)."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for i in range(count):
        base = 180.0 + 7.0 * i
        left = 0.3 * np.sin(2 * np.pi * base * t) + 0.1 * np.sin(2 * np.pi * 3 * base * t)
        right = 0.3 * np.sin(2 * np.pi * 1.5 * base * t)
        path = folder / f"track-{i:03d}.flac"
        sf.write(path, np.stack([left, right], axis=1), rate)
        paths.append(path)
    return paths


def tenant_of(stack: Stack, key: str) -> uuid.UUID:
    from app.hashing import hash_key

    with session_scope(stack.settings.database_url) as session:
        query = select(ApiKey.tenant_id).where(ApiKey.key_hash == hash_key(key))
        return uuid.UUID(str(session.scalars(query).one()))


def put_objects(stack: Stack, prefix: str, paths: list[Path]) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=stack.settings.s3_endpoint_url)
    keys = []
    for path in paths:
        s3.upload_file(str(path), BUCKET, f"it/{prefix}{path.name}")
        keys.append(f"{prefix}{path.name}")
    return keys


def create(stack: Stack, key: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{stack.api_url}/v1/batches", json=body, headers=auth(key), timeout=60)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def get(stack: Stack, key: str, path: str) -> requests.Response:
    return requests.get(f"{stack.api_url}{path}", headers=auth(key), timeout=30)


def wait_batch(stack: Stack, key: str, batch_id: str, timeout: float = 600) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        batch = get(stack, key, f"/v1/batches/{batch_id}").json()
        return batch if batch["status"] in ENDED else None

    return dict(wait_until(ended, timeout, f"batch {batch_id} to end", interval=1.0))


def results(stack: Stack, key: str, batch_id: str) -> list[dict[str, Any]]:
    answer = get(stack, key, f"/v1/batches/{batch_id}/results")
    assert answer.status_code == 200
    return [json.loads(line) for line in answer.text.splitlines()]


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_manifest_of_50_tracks_with_bad_lines_completes_with_per_item_results(
    stack, key, tmp_path
):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tenant = tenant_of(stack, key)
    keys = put_objects(stack, f"tenants/{tenant}/week48/", write_tracks(tmp_path, 50))
    lines = [json.dumps({"custom_id": k.rsplit("/", 1)[-1], "source": {"s3_key": k}}) for k in keys]
    lines[10:10] = ["{broken", json.dumps({"custom_id": "no-source"})]
    manifest = ("\n".join(lines) + "\n").encode()
    answer = requests.post(
        f"{stack.api_url}/v1/batches",
        files={"file": ("week48.jsonl", manifest)},
        data={"webhook_url": f"http://127.0.0.1:{server.server_port}/hook"},
        headers=auth(key),
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    batch = wait_batch(stack, key, answer.json()["id"])
    assert batch["status"] == "completed" and batch["item_count"] == 52
    assert batch["counts"]["succeeded"] == 50 and batch["counts"]["failed"] == 2
    rows = results(stack, key, batch["id"])
    assert [r["index"] for r in rows] == list(range(52))
    assert [r["error_code"] for r in rows[10:12]] == ["invalid_item", "invalid_item"]
    good = rows[:10] + rows[12:]
    assert [r["custom_id"] for r in good] == [f"track-{i:03d}.flac" for i in range(50)]
    assert all(r["verdict"] and r["job_id"] and r["scores"]["overall"] is not None for r in good)
    wait_until(lambda: Receiver.received, 30, "the batch.completed webhook")
    server.shutdown()
    headers, body = Receiver.received[0]
    with session_scope(stack.settings.database_url) as session:
        secret = session.get(Tenant, tenant).webhook_secret  # type: ignore[union-attr]
        attempts = session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.batch_id == uuid.UUID(batch["id"]))
        ).all()
        per_job = session.scalar(
            select(func.count(WebhookAttempt.id))
            .join(Job, Job.id == WebhookAttempt.job_id)
            .where(Job.batch_id == uuid.UUID(batch["id"]))
        )
    payload = json.loads(body)
    assert payload["type"] == "batch.completed" and payload["data"]["counts"]["succeeded"] == 50
    expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    assert headers["webhook-signature"] == expected
    assert [a.status_code for a in attempts] == [204] and per_job == 0


def test_a_prefix_batch_scans_every_object_and_fails_the_non_audio_one(stack, key, tmp_path):
    tenant = tenant_of(stack, key)
    prefix = f"tenants/{tenant}/drop/"
    notes = tmp_path / "notes.txt"
    notes.write_text("liner notes, not audio")
    put_objects(stack, prefix, [*write_tracks(tmp_path, 2), notes])
    batch = wait_batch(stack, key, create(stack, key, {"source": {"s3_prefix": prefix}})["id"])
    rows = {r["custom_id"]: r for r in results(stack, key, batch["id"])}
    assert set(rows) == {"track-000.flac", "track-001.flac", "notes.txt"}
    assert (
        rows["notes.txt"]["status"] == "failed" and rows["notes.txt"]["error_code"] == "not_audio"
    )
    assert rows["track-001.flac"]["status"] == "succeeded"


def test_cancel_mid_batch_stops_the_items_not_yet_finished(stack, key, tmp_path):
    tenant = tenant_of(stack, key)
    keys = put_objects(stack, f"tenants/{tenant}/cancel/", write_tracks(tmp_path, 12))
    items = [{"custom_id": k, "source": {"s3_key": k}} for k in keys]
    batch = create(stack, key, {"items": items})

    def one_done() -> bool:
        counts = get(stack, key, f"/v1/batches/{batch['id']}").json()["counts"]
        return bool(counts["succeeded"] >= 1)

    wait_until(one_done, 300, "the first item to finish", interval=0.5)
    canceled = requests.post(
        f"{stack.api_url}/v1/batches/{batch['id']}/cancel", headers=auth(key), timeout=30
    ).json()
    assert canceled["status"] == "canceled"
    counts = canceled["counts"]
    assert counts["succeeded"] >= 1 and counts["canceled"] >= 1
    assert counts["pending"] == counts["queued"] == counts["running"] == 0

    def settled() -> bool:  # running stages finish, and nothing starts or succeeds afterwards
        with session_scope(stack.settings.database_url) as session:
            busy = session.scalar(
                select(func.count(Job.id)).where(
                    Job.batch_id == uuid.UUID(batch["id"]), Job.heartbeat_at.is_not(None)
                )
            )
        return busy == 0

    wait_until(settled, 120, "running stages to stop")
    final = get(stack, key, f"/v1/batches/{batch['id']}").json()["counts"]
    assert final["succeeded"] == counts["succeeded"] and final["canceled"] == counts["canceled"]


def submit_job(stack: Stack, key: str, path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        answer = requests.post(
            f"{stack.api_url}/v1/jobs", files={"file": fh}, headers=auth(key), timeout=30
        )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def test_a_single_job_behind_a_large_batch_finishes_before_the_batch(stack, key, tmp_path):
    tenant = tenant_of(stack, key)
    # Warm the worker first: the job that loads the models must not be the one measured.
    (warm_path,) = write_tracks(tmp_path / "warm", 1)
    warm = submit_job(stack, key, warm_path)
    wait_until(
        lambda: get(stack, key, f"/v1/jobs/{warm['id']}").json()["finished_at"],
        300,
        "the warm-up job",
        interval=0.5,
    )
    keys = put_objects(stack, f"tenants/{tenant}/big/", write_tracks(tmp_path / "big", 16))
    batch = create(stack, key, {"items": [{"custom_id": k, "source": {"s3_key": k}} for k in keys]})
    other = create_key(stack.settings.database_url, f"single-{uuid.uuid4().hex[:6]}")
    (single_path,) = write_tracks(tmp_path / "single", 1)
    job = submit_job(stack, other, single_path)
    done = wait_batch(stack, key, batch["id"])
    assert done["counts"]["succeeded"] == 16
    single = get(stack, other, f"/v1/jobs/{job['id']}").json()
    assert single["status"] == "succeeded", single["error"]
    with session_scope(stack.settings.database_url) as session:
        finished_before = session.scalar(
            select(func.count(Job.id)).where(
                Job.batch_id == uuid.UUID(batch["id"]),
                Job.finished_at <= datetime.fromisoformat(single["finished_at"]),
            )
        )
    # Interactive and batch queues are served in turn, and the tenant's in-flight items are
    # capped: the single job overtakes most of the batch, not just its last item.
    print(f"batch items finished before the single job: {finished_before} of 16")
    assert finished_before is not None and finished_before <= 4, finished_before


def test_submissions_past_the_limit_are_429_with_retry_after(stack, key):
    # A day-long window: the four requests cannot straddle two windows.
    env = {
        **stack.env,
        "SOUNDSCAPE_RATE_LIMIT_SUBMISSIONS": "3",
        "SOUNDSCAPE_RATE_LIMIT_WINDOW_SECONDS": "86400",
    }
    limited = Stack(env, replace(stack.settings, rate_limit_submissions=3), stack.logs)
    limited.start_api()
    try:
        url = f"{limited.api_url}/v1/batches"
        answers = [requests.post(url, json={}, headers=auth(key), timeout=30) for _ in range(4)]
        assert [a.status_code for a in answers] == [202, 202, 202, 429]
        problem = answers[-1].json()
        assert problem["code"] == "rate_limited" and int(answers[-1].headers["Retry-After"]) >= 1
        assert requests.get(url, headers=auth(key), timeout=30).status_code == 200
    finally:
        limited.stop()


def test_another_tenants_batch_is_404_everywhere(stack, key):
    batch = create(stack, key, {})
    other = create_key(stack.settings.database_url, f"other-{uuid.uuid4().hex[:6]}")
    for path in ("", "/items", "/results"):
        answer = get(stack, other, f"/v1/batches/{batch['id']}{path}")
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    for action in ("cancel", "close"):
        answer = requests.post(
            f"{stack.api_url}/v1/batches/{batch['id']}/{action}", headers=auth(other), timeout=30
        )
        assert answer.status_code == 404


def test_the_client_submits_a_folder_and_resumes_after_an_interruption(stack, key, tmp_path):
    folder = tmp_path / "catalogue"
    write_tracks(folder / "disc1", 3)
    (folder / "disc1" / "cover-notes.txt").write_text("not audio")
    client = batchclient.BatchClient(stack.api_url, key)

    def interrupt_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batchclient.submit_folder(client, folder, {}, False, 1, interrupt_after_two)
    out = tmp_path / "results.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "batch", "submit", str(folder), "--server"]
        + [stack.api_url, "--key", key, "--results", str(out), "--interval", "0.5"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "2 sent now, 2 already there, 0 refused at submit" in done.stderr
    rows = {r["custom_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(rows) == 4 and rows["disc1/cover-notes.txt"]["error_code"] == "not_audio"
    assert [rows[f"disc1/track-00{i}.flac"]["status"] for i in range(3)] == ["succeeded"] * 3

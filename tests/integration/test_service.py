"""The service end to end on real servers: gunicorn, PostgreSQL, Redis, moto S3, Celery."""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import soundfile as sf
from sqlalchemy import func, select

from app.config import Settings
from app.db import session_scope
from app.outbound import sign
from app.services.tenants import create_key
from app.tables import (
    ApiKey,
    Artifact,
    Job,
    StageResult,
    Tenant,
    Track,
    WebhookAttempt,
    utcnow,
)
from tests.conftest import SONG, SPEECH
from tests.integration.conftest import BUCKET, Stack, wait_until
from tests.workers.compute.test_ingest import spoil_ogg_pages

pytestmark = pytest.mark.integration
STAGES = ["ingest", "separate", "identify", "detect", "localize", "finalize"]


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    return create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")


@pytest.fixture(autouse=True)
def worker_running(stack: Stack) -> None:
    stack.ensure_worker()


def excerpt(
    audio_dir: Path, tmp_path: Path, name: str, start: float, seconds: float, suffix: str = ".flac"
) -> Path:
    target = tmp_path / f"{Path(name).stem[:12]}-{start:g}{suffix}"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            str(start),
            "-t",
            str(seconds),
            "-i",
            str(audio_dir / name),
            str(target),
        ],
        check=True,
    )
    return target


def submit_file(
    stack: Stack, key: str, path: Path, data: dict[str, str] | None = None, **headers: str
) -> dict[str, Any]:
    with path.open("rb") as fh:
        response = requests.post(
            f"{stack.api_url}/v1/jobs",
            files={"file": (path.name, fh)},
            data=data or {},
            headers={"Authorization": f"Bearer {key}", **headers},
            timeout=30,
        )
    assert response.status_code == 202, response.text
    return dict(response.json())


def poll(stack: Stack, key: str, job_id: str, statuses: set[str], timeout: float = 240) -> dict:
    def check() -> dict | None:
        job = requests.get(
            f"{stack.api_url}/v1/jobs/{job_id}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).json()
        return job if job["status"] in statuses else None

    return dict(wait_until(check, timeout, f"job {job_id} to reach {statuses}", interval=0.5))


def s3_keys(stack: Stack, job_id: str) -> set[str]:
    s3 = boto3.client("s3", endpoint_url=stack.settings.s3_endpoint_url)
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="it/tenants/")
    return {
        obj["Key"].rsplit("/", 1)[-1]
        for obj in listing.get("Contents", [])
        if f"/jobs/{job_id}/" in obj["Key"]
    }


def count_rows(stack: Stack, model: Any, job_id: str) -> int:
    with session_scope(stack.settings.database_url) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(model).where(model.job_id == uuid.UUID(job_id))
            )
            or 0
        )


def test_an_upload_is_processed_to_a_report_with_rows_and_objects(stack, key, audio_dir, tmp_path):
    path = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 6, ".mp3")
    # The speech-trained vocal detector is off by default; this job asks for it.
    submitted = submit_file(stack, key, path, {"options": '{"vocal_detector": true}'})
    assert submitted["options"] == {"vocal_detector": True}
    job = poll(stack, key, submitted["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    report = job["result"]
    assert report["options"] == {"vocal_detector": True}
    assert report["verdict"] in {"likely_synthetic", "likely_authentic", "inconclusive"}
    assert report["audio"]["duration_seconds"] == pytest.approx(6.0, abs=0.1)
    assert report["audio"]["format"] == "mp3" and len(report["audio"]["sha256"]) == 64
    assert set(report["models"]) >= {"separator", "vocal_detector", "mixture_detector"}
    assert report["models"]["mixture_detector"]["calibrated_on_music"] is True
    assert report["models"]["vocal_detector"]["domain"] == "speech"
    assert 0.0 <= report["scores"]["vocals"] <= 1.0
    assert 0.0 <= report["scores"]["mixture"] <= 1.0
    assert report["scores"]["overall"] == report["scores"]["mixture"]
    assert report["reasons"][0].startswith("mixture detector soundscape-mix")
    assert len(report["timeline"]["mixture"]) == 6
    assert report["timeline"]["hop_seconds"] == 1.0
    assert len(report["timeline"]["vocals"]) == 6 and len(report["timeline"]["vocal_activity"]) == 6
    assert any(score is not None for score in report["timeline"]["vocals"])
    assert s3_keys(stack, job["id"]) == {
        "source",
        "canonical.flac",
        "vocals.flac",
        "accompaniment.flac",
        "timeline.png",
    }
    assert count_rows(stack, Track, job["id"]) == 1
    assert count_rows(stack, Artifact, job["id"]) == 4
    with session_scope(stack.settings.database_url) as session:
        stages = set(
            session.scalars(
                select(StageResult.stage).where(StageResult.job_id == uuid.UUID(job["id"]))
            )
        )
    assert stages == set(STAGES)


def test_the_report_has_regions_a_timeline_picture_and_an_html_page(
    stack, key, audio_dir, tmp_path
):
    path = excerpt(audio_dir, tmp_path, SPEECH[2], 0, 5)
    job = poll(stack, key, submit_file(stack, key, path)["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    report = job["result"]
    assert isinstance(report["regions"], list)
    defaults = Settings()
    assert report["localization"]["thresholds"]["mixture"] == {
        "on": defaults.region_on_threshold,
        "off": defaults.region_off_threshold,
    }
    assert "vocals" in report["localization"]["not_localized"]
    picture = requests.get(report["artifacts"]["timeline"], timeout=30)
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    page = requests.get(
        f"{stack.api_url}/v1/jobs/{job['id']}/report",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    inline = base64.b64encode(picture.content).decode()
    assert f"data:image/png;base64,{inline}" in page.text
    assert report["verdict"].replace("_", " ") in page.text


def test_artifact_links_are_presigned_and_download_the_flac(stack, key, audio_dir, tmp_path):
    path = excerpt(audio_dir, tmp_path, SPEECH[1], 0, 5)
    job = poll(stack, key, submit_file(stack, key, path)["id"], {"succeeded", "failed"})
    url = job["result"]["artifacts"]["vocals"]
    assert "X-Amz-Signature" in url
    download = tmp_path / "vocals.flac"
    download.write_bytes(requests.get(url, timeout=30).content)
    assert sf.info(str(download)).samplerate == 44100


def test_a_url_source_is_fetched_by_the_worker(stack, key, audio_dir, tmp_path):
    path = excerpt(audio_dir, tmp_path, SPEECH[2], 0, 5, ".wav")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path), **k
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        response = requests.post(
            f"{stack.api_url}/v1/jobs",
            json={"source": {"url": url}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        job = poll(stack, key, response.json()["id"], {"succeeded", "failed"})
    finally:
        server.shutdown()
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["audio"]["format"] == "wav"
    # No options asked for: the deployment's default, the vocal detector off.
    assert job["options"] == {"vocal_detector": False}
    assert job["result"]["options"] == {"vocal_detector": False}
    assert "vocal_detector" not in job["result"]["models"]
    assert job["result"]["scores"]["vocals"] is None


def test_an_s3_key_of_the_tenant_is_scanned(stack, key, audio_dir, tmp_path):
    with session_scope(stack.settings.database_url) as session:
        tenant = session.scalar(select(ApiKey.tenant_id).where(ApiKey.prefix == key[:10]))
    object_key = f"tenants/{tenant}/uploads/catalogue-001.flac"
    boto3.client("s3", endpoint_url=stack.settings.s3_endpoint_url).upload_file(
        str(excerpt(audio_dir, tmp_path, SPEECH[0], 2, 5)), BUCKET, f"it/{object_key}"
    )
    response = requests.post(
        f"{stack.api_url}/v1/jobs",
        json={"source": {"s3_key": object_key}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job = poll(stack, key, response.json()["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]


def test_an_ogg_with_one_bad_packet_is_analysed_and_the_report_says_so(
    stack, key, audio_dir, tmp_path
):
    whole = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 8, ".ogg")
    damaged = tmp_path / "damaged.ogg"
    assert spoil_ogg_pages(whole, damaged, every=1000, start=0.5) == 1
    job = poll(stack, key, submit_file(stack, key, damaged)["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    assert any("undecodable packets" in w for w in job["result"]["warnings"])
    assert job["result"]["audio"]["duration_seconds"] == pytest.approx(8.0, abs=0.1)


def test_a_corrupt_file_fails_its_job_with_a_specific_code(stack, key, audio_dir, tmp_path):
    whole = excerpt(audio_dir, tmp_path, SPEECH[0], 0, 6).read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole[: len(whole) // 2])
    job = poll(stack, key, submit_file(stack, key, cut)["id"], {"succeeded", "failed"})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "corrupt_audio" and job["error"]["stage"] == "ingest"
    assert job["error"]["detail"] and job["result"] is None


def test_a_canceled_job_never_turns_succeeded(stack, key, audio_dir, tmp_path):
    path = excerpt(audio_dir, tmp_path, SONG, 20, 20)
    job_id = submit_file(stack, key, path)["id"]
    poll(stack, key, job_id, {"running"}, timeout=60)
    canceled = requests.post(
        f"{stack.api_url}/v1/jobs/{job_id}/cancel",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ).json()
    assert canceled["status"] == "canceled"
    # The stage in flight finishes, then the chain stops: wait for the worker to go idle.
    follower = submit_file(stack, key, excerpt(audio_dir, tmp_path, SPEECH[1], 0, 4))
    poll(stack, key, follower["id"], {"succeeded", "failed"})
    with session_scope(stack.settings.database_url) as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None and job.status == "canceled" and job.result is None
        done = set(session.scalars(select(StageResult.stage).where(StageResult.job_id == job.id)))
    assert "finalize" not in done


def in_flight_stage(stack: Stack, job_id: str) -> str | None:
    """The stage a worker is computing right now (heartbeat set, output not yet saved)."""
    with session_scope(stack.settings.database_url) as session:
        job = session.get(Job, uuid.UUID(job_id))
        if job is None or job.heartbeat_at is None or job.stage not in ("separate", "detect"):
            return None
        saved = session.scalar(
            select(StageResult.id).where(
                StageResult.job_id == job.id, StageResult.stage == job.stage
            )
        )
        return None if saved else job.stage


def test_a_worker_killed_mid_stage_is_replaced_and_the_job_finishes_once(
    stack, key, audio_dir, tmp_path
):
    path = excerpt(audio_dir, tmp_path, SONG, 40, 25)
    job_id = submit_file(stack, key, path)["id"]
    stage = wait_until(
        lambda: in_flight_stage(stack, job_id),
        120,
        "the job to be inside separate or detect",
        interval=0.1,
    )
    stack.kill_worker()
    killed_at = utcnow()
    stack.start_worker()
    job = poll(stack, key, job_id, {"succeeded", "failed"}, timeout=300)
    assert job["status"] == "succeeded", (stage, job["error"])
    with session_scope(stack.settings.database_url) as session:
        rerun = session.scalar(
            select(StageResult.created_at).where(
                StageResult.job_id == uuid.UUID(job_id), StageResult.stage == stage
            )
        )
    assert rerun is not None and rerun > killed_at, "the killed stage was not run again"
    assert count_rows(stack, Track, job_id) == 1
    assert count_rows(stack, StageResult, job_id) == len(STAGES)
    assert s3_keys(stack, job_id) == {
        "source",
        "canonical.flac",
        "vocals.flac",
        "accompaniment.flac",
        "timeline.png",
    }
    time.sleep(2)
    assert poll(stack, key, job_id, {"succeeded"})["finished_at"] == job["finished_at"]


class WebhookReceiver(http.server.BaseHTTPRequestHandler):
    """A client's endpoint: fails the first delivery with 500, accepts the next ones."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(type(self).received) == 1 else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_a_finished_job_sends_a_signed_webhook_retried_after_a_failure(
    stack, key, audio_dir, tmp_path
):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebhookReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        with excerpt(audio_dir, tmp_path, SPEECH[2], 0, 4).open("rb") as fh:
            job = requests.post(
                f"{stack.api_url}/v1/jobs",
                files={"file": fh},
                data={"webhook_url": hook},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            ).json()
        poll(stack, key, job["id"], {"succeeded", "failed"})
        wait_until(lambda: len(WebhookReceiver.received) >= 2, 60, "the webhook to be retried")
    finally:
        server.shutdown()
    (first, body), (second, body_again) = WebhookReceiver.received[:2]
    assert first["webhook-id"] == second["webhook-id"] == f"msg_{job['id']}_succeeded"
    with session_scope(stack.settings.database_url) as session:
        tenant = session.scalar(
            select(Tenant)
            .join(ApiKey, ApiKey.tenant_id == Tenant.id)
            .where(ApiKey.prefix == key[:10])
        )
        secret = tenant.webhook_secret
        attempts = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.job_id == uuid.UUID(job["id"]))
            .order_by(WebhookAttempt.attempt)
        ).all()
        logged = [(a.attempt, a.status_code) for a in attempts]
    assert second["webhook-signature"] == sign(
        secret, second["webhook-id"], int(second["webhook-timestamp"]), body_again
    )
    payload = json.loads(body_again)
    assert payload["type"] == "job.succeeded" and payload["data"]["id"] == job["id"]
    assert payload["data"]["result"]["verdict"] in {
        "likely_synthetic",
        "likely_authentic",
        "inconclusive",
    }
    assert logged == [(1, 500), (2, 204)]


def test_readiness_sees_postgres_redis_and_s3(stack):
    body = requests.get(f"{stack.api_url}/readyz", timeout=10).json()
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


def test_a_started_job_finishes_before_the_next_job_starts(stack, key, audio_dir, tmp_path):
    # One worker: later stages outrank earlier ones and every stage outranks a job's start,
    # so a burst runs job after job instead of interleaving every chain.
    clip = excerpt(audio_dir, tmp_path, SPEECH[2], 0, 2)
    ids = [submit_file(stack, key, clip)["id"] for _ in range(3)]
    for job_id in ids:
        assert poll(stack, key, job_id, {"succeeded", "failed"})["status"] == "succeeded"
    with session_scope(stack.settings.database_url) as session:
        jobs = [session.get(Job, uuid.UUID(job_id)) for job_id in ids]
    spans = sorted((job.started_at, job.finished_at) for job in jobs if job is not None)
    assert len(spans) == 3
    for (_, finished), (started, _) in zip(spans, spans[1:], strict=False):
        assert started >= finished

"""The CPU worker (ingest, localize, finalize, webhook delivery) never imports torch: its image and
memory stay small, and only the GPU stages load models."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from app.config import PROJECT_ROOT
from tests.conftest import make_tone_file
from tests.workers.networks.test_weights import closed_port

SCRIPT = """
import json, sys, uuid
from pathlib import Path
import workers.celery_app  # what `soundscape worker --queues cpu` loads
from app import jobstate
from app.config import load_settings
from app.db import session_scope, upgrade
from app.jobsource import JobSource
from app.tables import Job, Tenant, WebhookEvent
from sqlalchemy import select
from app.storage import job_key
from tests.workers.stages.test_chain import SAMPLES
from workers import webhooks
from workers.runner import execute_stage
from workers.runtime import runtime_from
from workers.stages import STAGES

settings = load_settings()
upgrade(settings.database_url)
runtime = runtime_from(settings)
job_id = uuid.uuid4()
with session_scope(settings.database_url) as session:
    tenant = Tenant(name="cpu-queue")
    session.add(tenant)
    session.flush()
    key = job_key(tenant.id, job_id, "source")
    runtime.storage.put_file(key, Path(sys.argv[1]), "audio/wav")
    session.add(Job(id=job_id, tenant_id=tenant.id, status="queued", progress=0.0,
                    source=JobSource.upload("tone.wav", key).to_json(), attempts=0,
                    webhook_url=sys.argv[2]))
with runtime.session() as session:
    assert jobstate.start_job(session, job_id, "ingest")
stages = {stage.name: stage for stage in STAGES}
assert execute_stage(runtime, stages["ingest"], str(job_id))
with runtime.session() as session:
    for name, following in (
        ("separate", "identify"), ("identify", "detect"), ("detect", "localize")
    ):
        jobstate.begin_stage(session, job_id, name, 0.5)
        jobstate.save_stage_output(session, job_id, name, SAMPLES[name].to_json(), following)
assert execute_stage(runtime, stages["localize"], str(job_id))
assert execute_stage(runtime, stages["finalize"], str(job_id))
with runtime.session() as session:
    status = session.get(Job, job_id).status
tried = webhooks.deliver_due_once(runtime)
with runtime.session() as session:
    event = session.scalars(select(WebhookEvent).where(WebhookEvent.job_id == job_id)).one()
    retry = tried == 1 and event.status == "pending" and event.attempts == 1
print(json.dumps({"status": status, "retry": retry, "torch": "torch" in sys.modules}))
"""


def test_ingest_localize_finalize_and_webhooks_run_without_importing_torch(tmp_path):
    tone = make_tone_file(tmp_path / "tone.wav")
    env = {
        **os.environ,
        "SOUNDSCAPE_DATA_DIR": str(tmp_path / "data"),
        "SOUNDSCAPE_ALLOW_PRIVATE_URLS": "true",
        "SOUNDSCAPE_WEBHOOK_TIMEOUT": "2",
    }
    hook = f"http://127.0.0.1:{closed_port()}/hook"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tone), hook],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": "succeeded", "retry": True, "torch": False}

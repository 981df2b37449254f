"""Run the whole pipeline in this process, with no servers: SQLite and a local folder.

The same ``execute_stage`` the Celery tasks call moves the job, so the inline run and
the service give the same report for the same file.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from app.config import Settings
from app.db import session_scope, upgrade
from app.jobsource import JobSource
from app.models import Job, Tenant
from app.storage import Storage, job_key
from workers.runner import execute_stage
from workers.runtime import runtime_from
from workers.stages import STAGES


class AnalysisFailed(Exception):
    """The pipeline failed the job; ``problem`` is its problem object."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", "analysis failed"))
        self.problem = problem
        self.detail = f"{problem.get('detail')} ({problem.get('code')})"


def analyze_file(path: Path, settings: Settings, out_dir: Path | None = None) -> dict[str, Any]:
    """Analyse ``path`` and return the report; artifacts are copied into ``out_dir``."""
    runtime = runtime_from(settings)
    upgrade(settings.database_url)
    job_id = uuid.uuid4()
    with session_scope(settings.database_url) as session:
        tenant = Tenant(name=f"inline-{job_id}")
        session.add(tenant)
        session.flush()
        key = job_key(tenant.id, job_id, "source")
        with path.open("rb") as fh:
            runtime.storage.put_stream(key, fh, "application/octet-stream")
        session.add(
            Job(
                id=job_id,
                tenant_id=tenant.id,
                status="running",
                progress=0.0,
                source=JobSource.upload(path.name, key).to_json(),
                attempts=0,
                next_stage=STAGES[0].name,
            )
        )
    for stage in STAGES:
        if not execute_stage(runtime, stage, str(job_id)):
            break
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        if job.status != "succeeded" or job.result is None:
            raise AnalysisFailed(job.error or {"detail": f"job ended {job.status}"})
        report = dict(job.result)
    report["artifacts"] = _export(runtime.storage, report.get("artifacts", {}), out_dir)
    return report


def _export(storage: Storage, artifacts: dict[str, str], out_dir: Path | None) -> dict[str, str]:
    if out_dir is None:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    exported = {}
    for name, key in artifacts.items():
        target = out_dir / Path(key).name
        storage.get_file(key, target)
        exported[name] = str(target.resolve())
    return exported

"""Run the whole pipeline in this process, with no servers: SQLite and a local folder; and
enrol an artist's reference recording the same way (``soundscape artists import``).

The same ``execute_stage`` the Celery tasks call moves the job, so the inline run and
the service give the same report for the same file.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from app import jobstate
from app.config import Settings
from app.db import session_scope, upgrade
from app.joboptions import JobOptions, deployment_options
from app.jobsource import JobSource
from app.services.tenants import create_tenant
from app.services.voiceprints import LOCAL_TENANT
from app.storage import Storage, job_key
from app.tables import ANALYSIS, REFERENCE, Job
from workers.runner import execute_stage
from workers.runtime import GalleryRef, Runtime, runtime_from
from workers.stages import PIPELINES


class AnalysisFailed(Exception):
    """The pipeline failed the job; ``problem`` is its problem object."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", "analysis failed"))
        self.problem = problem
        self.detail = f"{problem.get('detail')} ({problem.get('code')})"


def analyze_file(
    path: Path,
    settings: Settings,
    out_dir: Path | None = None,
    gallery: GalleryRef | None = None,
    options: JobOptions | None = None,
) -> dict[str, Any]:
    """Analyse ``path`` and return the report; artifacts are copied into ``out_dir``. Artists
    are matched against ``gallery`` (default: the inline tenant's, which is empty); ``options``
    default to the settings' (``deployment_options``)."""
    runtime = runtime_from(settings, gallery)
    upgrade(settings.database_url)
    job_id = uuid.uuid4()
    with session_scope(settings.database_url) as session:
        tenant_id = create_tenant(session, f"inline-{job_id}")
    _add_job(runtime, tenant_id, job_id, path, ANALYSIS, options or deployment_options(settings))
    report = run_job(runtime, job_id, ANALYSIS)
    report["artifacts"] = _export(runtime.storage, report.get("artifacts", {}), out_dir)
    return report


def enroll_file(path: Path, runtime: Runtime, artist_id: uuid.UUID) -> dict[str, Any]:
    """Enrol ``path`` as a reference recording of ``artist_id`` in this process (the
    reference pipeline) and return the job's result. On failure the reference, its job and
    stored audio are removed and AnalysisFailed carries the problem."""
    from app.services.artists import delete_reference
    from app.tables import Artist, ArtistReference

    database_url = runtime.settings.database_url
    job_id, reference_id = uuid.uuid4(), uuid.uuid4()
    with session_scope(database_url) as session:
        artist = session.get(Artist, artist_id)
        assert artist is not None
        tenant_id = artist.tenant_id
    _add_job(runtime, tenant_id, job_id, path, REFERENCE)
    with session_scope(database_url) as session:
        session.add(
            ArtistReference(
                id=reference_id, artist_id=artist_id, tenant_id=tenant_id, job_id=job_id
            )
        )
    try:
        return run_job(runtime, job_id, REFERENCE)
    except AnalysisFailed:
        with session_scope(database_url) as session:
            reference = session.get(ArtistReference, reference_id)
            if reference is not None:
                delete_reference(session, runtime.storage, reference)
        raise


def _add_job(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    path: Path,
    pipeline: str,
    options: JobOptions | None = None,
) -> None:
    key = job_key(tenant_id, job_id, "source")
    with path.open("rb") as fh:
        runtime.storage.put_stream(key, fh, "application/octet-stream")
    with session_scope(runtime.settings.database_url) as session:
        source = JobSource.upload(path.name, key)
        jobstate.create_job(
            session, tenant_id, source, job_id=job_id, pipeline=pipeline, options=options
        )
        session.commit()
        jobstate.start_job(session, job_id, PIPELINES[pipeline][0].name)


def run_job(runtime: Runtime, job_id: uuid.UUID, pipeline: str) -> dict[str, Any]:
    """Run every stage of the job's ``pipeline`` in turn; its result, or AnalysisFailed."""
    stages = PIPELINES[pipeline]
    for stage in stages:
        if not execute_stage(runtime, stage, str(job_id), stages=stages):
            break
    with session_scope(runtime.settings.database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        if job.status != "succeeded" or job.result is None:
            raise AnalysisFailed(job.error or {"detail": f"job ended {job.status}"})
        return dict(job.result)


def local_gallery(settings: Settings, tenant: str = LOCAL_TENANT) -> GalleryRef:
    """The gallery of tenant ``tenant`` in the settings' database, without creating or
    migrating anything: a database that does not exist yet, or has no gallery tables, or
    no such tenant, is a gallery of nobody."""
    from sqlalchemy import inspect

    from app.db import get_engine
    from app.services.tenants import find_tenant

    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return GalleryRef(url, None)
    if not inspect(get_engine(url)).has_table("artist_galleries"):
        return GalleryRef(url, None)
    with session_scope(url) as session:
        return GalleryRef(url, find_tenant(session, tenant))


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

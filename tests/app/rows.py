"""Rows for the unit tests of the state modules, in the embedded default's SQLite database."""

from __future__ import annotations

import uuid
from typing import Any

from app import jobstate
from app.db import session_scope
from app.jobsource import JobSource
from app.services.tenants import create_tenant
from app.tables import Job


def new_tenant(url: str) -> uuid.UUID:
    with session_scope(url) as session:
        return create_tenant(session, f"t-{uuid.uuid4().hex[:8]}")


def new_job(url: str, tenant_id: uuid.UUID | None = None, **fields: Any) -> uuid.UUID:
    """A job made by ``jobstate.create_job``, then given ``fields`` as they are."""
    tenant_id = tenant_id or new_tenant(url)
    with session_scope(url) as session:
        job = jobstate.create_job(session, tenant_id, JobSource.upload("a.wav", "k"))
        for name, value in fields.items():
            setattr(job, name, value)
        session.flush()
        return job.id


def job_row(url: str, job_id: uuid.UUID) -> Job:
    """The job's row, detached: its columns as they are now."""
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job

"""JSON shapes of API resources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.jobsource import JobSource
from app.models import Job


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_to_dict(job: Job, artifact_url: Callable[[str, str], str]) -> dict[str, Any]:
    """A job as clients see it; ``artifact_url(name, key)`` turns stored keys into links."""
    body: dict[str, Any] = {
        "id": str(job.id),
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 3),
        "source": JobSource.from_json(job.source).public(),
        "metadata": job.client_metadata,
        "webhook_url": job.webhook_url,
        "batch_id": str(job.batch_id) if job.batch_id else None,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "error": job.error,
        "result": None,
        "links": {"self": f"/v1/jobs/{job.id}", "cancel": f"/v1/jobs/{job.id}/cancel"},
    }
    if job.status == "succeeded" and job.result is not None:
        result = dict(job.result)
        result["artifacts"] = {
            name: artifact_url(name, key) for name, key in (result.get("artifacts") or {}).items()
        }
        body["result"] = result
    return body

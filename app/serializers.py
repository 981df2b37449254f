"""JSON shapes of API resources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.jobsource import JobSource
from app.tables import Artist, ArtistReference, Job


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_to_dict(
    job: Job, artifact_url: Callable[[str, str], str], queue_position: int | None = None
) -> dict[str, Any]:
    """A job as clients see it; ``artifact_url(name, key)`` turns stored keys into links;
    ``queue_position`` (``app.queueposition``) is shown while the job is queued."""
    body: dict[str, Any] = {
        "id": str(job.id),
        "status": job.status,
        "queue_position": queue_position if job.status == "queued" else None,
        "stage": job.stage,
        # The stage due next and not yet begun: a job between two stages waits in a queue.
        "waiting_for": job.next_stage if job.status in ("queued", "running") else None,
        "progress": round(job.progress, 3),
        "source": JobSource.from_json(job.source).public(),
        "metadata": job.client_metadata,
        "options": job.options,
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


def reference_status(reference: ArtistReference, job: Job | None) -> str:
    """``ready`` once enrolled, ``pending`` while its job is queued or running, else
    ``failed`` (the job's ``error`` says why)."""
    if reference.embedding is not None:
        return "ready"
    if job is not None and job.status in ("queued", "running"):
        return "pending"
    return "failed"


def reference_to_dict(reference: ArtistReference, job: Job | None) -> dict[str, Any]:
    base = f"/v1/artists/{reference.artist_id}/references/{reference.id}"
    return {
        "id": str(reference.id),
        "artist_id": str(reference.artist_id),
        "status": reference_status(reference, job),
        "source": JobSource.from_json(job.source).public() if job is not None else None,
        "sha256": reference.sha256,
        "vocal_seconds": reference.vocal_seconds,
        "job_id": str(reference.job_id) if reference.job_id else None,
        "error": job.error if job is not None and job.status != "succeeded" else None,
        "created_at": _iso(reference.created_at),
        "links": {"self": base, "job": f"/v1/jobs/{reference.job_id}"}
        if reference.job_id
        else {"self": base},
    }


def artist_to_dict(
    artist: Artist,
    references: int,
    pending: int,
    detail: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An artist as clients see it; ``detail`` (its references) only on GET of one artist."""
    body: dict[str, Any] = {
        "id": str(artist.id),
        "name": artist.name,
        "external_id": artist.external_id,
        "reference_count": references,
        "pending_references": pending,
        "enrolled": artist.voiceprint is not None,
        "created_at": _iso(artist.created_at),
        "links": {
            "self": f"/v1/artists/{artist.id}",
            "references": f"/v1/artists/{artist.id}/references",
        },
    }
    if detail is not None:
        body["references"] = detail
    return body

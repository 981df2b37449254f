"""Ingest adapter: fetch the job's source, run the ingest stage, store canonical audio."""

from __future__ import annotations

from typing import Any

from app.db import upsert
from app.models import Track, utcnow
from app.services.sources import fetch_url
from workers.jobstate import JobRef
from workers.pipeline.ingest import CANONICAL_RATE, ingest_file, write_flac
from workers.runtime import Runtime


def run(runtime: Runtime, job: JobRef) -> dict[str, Any]:
    settings = runtime.settings
    with runtime.workdir() as tmp:
        source = tmp / "source"
        if job.source["kind"] == "url":
            fetch_url(job.source["url"], source, settings.max_upload_bytes,
                      settings.url_fetch_timeout, settings.allow_private_urls)
        else:
            runtime.storage.get_file(job.source.get("key") or job.source["s3_key"], source)
        track = ingest_file(source, settings.max_duration_seconds, settings.min_duration_seconds)
        canonical = write_flac(track.canonical, CANONICAL_RATE, tmp / "canonical.flac")
        key = runtime.store_artifact(job, "canonical", canonical, "audio/flac")
    info = track.info
    with runtime.session() as session:
        facts = {k: v for k, v in info.as_dict().items() if k != "format"}
        upsert(session, Track, {"job_id": job.id}, {**facts, "created_at": utcnow()})
        session.commit()
    audio = {"duration_seconds": info.duration_seconds, "sample_rate": info.sample_rate,
             "channels": info.channels, "sha256": info.sha256, "format": info.format,
             "codec": info.codec, "loudness_lufs": info.loudness_lufs, "peak_dbfs": info.peak_dbfs}
    return {"report": {"audio": audio, "artifacts": {"canonical": key}}}

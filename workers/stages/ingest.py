"""Ingest stage (cpu queue): fetch the job's source, check and decode it, store the
canonical 44.1 kHz stereo FLAC and the track's facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.db import upsert
from app.jobsource import JobSource
from app.jobstate import JobRef
from app.outbound import fetch_url
from app.tables import Track, utcnow
from workers.compute.canonical import CANONICAL_RATE, TrackInfo, ingest_file, write_flac
from workers.runtime import Runtime


@dataclass(frozen=True)
class IngestInput:
    """Nothing from earlier stages: the source comes with the job."""


@dataclass(frozen=True)
class IngestOutput:
    """The canonical audio's storage key and the facts of the source file."""

    duration_seconds: float
    sample_rate: int
    channels: int
    sha256: str
    format: str
    codec: str
    loudness_lufs: float | None
    peak_dbfs: float
    canonical_key: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, info: TrackInfo, canonical_key: str, warnings: tuple[str, ...] = ()
    ) -> IngestOutput:
        return cls(
            info.duration_seconds,
            info.sample_rate,
            info.channels,
            info.sha256,
            info.format,
            info.codec,
            info.loudness_lufs,
            info.peak_dbfs,
            canonical_key,
            warnings,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> IngestOutput:
        return cls(**{**raw, "warnings": tuple(raw.get("warnings", ()))})

    def report(self) -> dict[str, Any]:
        audio = {k: v for k, v in asdict(self).items() if k not in ("canonical_key", "warnings")}
        fragment = {"audio": audio, "artifacts": {"canonical": self.canonical_key}}
        return {**fragment, "warnings": list(self.warnings)} if self.warnings else fragment


def run(runtime: Runtime, job: JobRef, inputs: IngestInput) -> IngestOutput:
    settings = runtime.settings
    with runtime.workdir() as tmp:
        source = fetch_source(runtime, job.source, tmp / "source")
        track = ingest_file(source, settings.max_duration_seconds, settings.min_duration_seconds)
        canonical = write_flac(track.canonical, CANONICAL_RATE, tmp / "canonical.flac")
        key = runtime.store_artifact(job, "canonical", canonical, "audio/flac")
    with runtime.session() as session:
        facts = {k: v for k, v in track.info.as_dict().items() if k != "format"}
        upsert(session, Track, {"job_id": job.id}, {**facts, "created_at": utcnow()})
        session.commit()
    return IngestOutput.of(track.info, key, track.warnings)


def fetch_source(runtime: Runtime, source: JobSource, target: Path) -> Path:
    """Download a URL source (SSRF-guarded) or copy the stored object to ``target``."""
    settings = runtime.settings
    if source.url is not None:
        fetch_url(
            source.url,
            target,
            settings.max_upload_bytes,
            settings.url_fetch_timeout,
            settings.allow_private_urls,
        )
    else:
        assert source.key is not None, "an upload or s3_key source always has a storage key"
        runtime.storage.get_file(source.key, target)
    return target

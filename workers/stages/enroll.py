"""Enroll stage (gpu queue), the last of the reference pipeline: embed a reference recording's
separated vocals, store the embedding on its ``artist_references`` row, recompute the
artist's voiceprint; the job's result is the enrolled reference, the artist's enrolment
quality with it, and the recording's audio facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from app.errors import NotFoundError, NoVocalsError
from app.jobstate import JobRef
from app.services.enrolment import artist_quality
from app.services.voiceprints import enroll_reference
from app.tables import Artist, ArtistReference
from workers.networks.roles import ModelInfo
from workers.runtime import Runtime
from workers.stages.ingest import IngestOutput
from workers.stages.separate import SeparateOutput


@dataclass(frozen=True)
class EnrollInput:
    ingest: IngestOutput
    separate: SeparateOutput


@dataclass(frozen=True)
class EnrollOutput:
    """The enrolled reference, how much voice it holds, the encoder that embedded it, the
    artist's enrolment ``quality`` once it was enrolled (app.services.enrolment), and the
    recording's audio facts (from ingest) for the job's result."""

    reference_id: str
    artist_id: str
    windows: int
    vocal_seconds: float
    encoder: ModelInfo
    audio: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "encoder": self.encoder.as_dict()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> EnrollOutput:
        return cls(**{**raw, "encoder": ModelInfo.from_dict(raw["encoder"])})

    def report(self) -> dict[str, Any]:
        reference = {
            key: value for key, value in self.to_json().items() if key not in ("audio", "quality")
        }
        return {"reference": reference, "quality": self.quality}

    def result(self) -> dict[str, Any]:
        audio = {} if self.audio is None else {"audio": self.audio}
        return {**self.report(), **audio}


def run(runtime: Runtime, job: JobRef, inputs: EnrollInput) -> EnrollOutput:
    from workers.stages.identify import embed_vocal_stem

    _, encoder, voice = embed_vocal_stem(runtime, inputs.separate)
    if voice.track is None:
        raise NoVocalsError(
            f"no vocals found: {voice.vocal_seconds:.1f} s of the recording is vocal-active, "
            "too little to enrol a voice"
        )
    with runtime.session() as session:
        reference_id = session.scalar(
            select(ArtistReference.id).where(ArtistReference.job_id == job.id)
        )
        artist_id = session.scalar(
            select(ArtistReference.artist_id).where(ArtistReference.id == reference_id)
        )
        enrolled = reference_id is not None and enroll_reference(
            session, reference_id, voice.track.tolist(), voice.vocal_seconds, inputs.ingest.sha256
        )
        artist = session.get(Artist, artist_id) if enrolled else None
        quality = artist_quality(session, artist).to_json() if artist is not None else None
    if not enrolled:
        raise NotFoundError(f"the reference of job {job.id} was deleted while it was enrolled")
    audio = inputs.ingest.report().get("audio")
    return EnrollOutput(
        str(reference_id),
        str(artist_id),
        voice.windows,
        voice.vocal_seconds,
        encoder.info,
        audio,
        quality,
    )

"""Identify stage (gpu queue): embed the vocal stem's voice, and each section's, and match them
against the tenant's artist gallery. Torch loads only when the stage runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.jobstate import JobRef
from workers.compute.identification import (
    INSUFFICIENT_VOCALS,
    MATCH,
    NO_MATCH,
    ArtistMatch,
    VoiceEmbedding,
)
from workers.networks.roles import ModelInfo
from workers.runtime import Runtime
from workers.stages.separate import SeparateOutput

NO_VOCALS = (
    "insufficient vocals: too little of the track is vocal-active to embed a voice, so no "
    "artist is matched or ruled out"
)
EMPTY_GALLERY = "the artist gallery is empty: enrol artists with POST /v1/artists"


@dataclass(frozen=True)
class IdentifyInput:
    separate: SeparateOutput


@dataclass(frozen=True)
class IdentifyOutput:
    """The top artist matches, why there are none (``reason``), and how they were found."""

    matches: tuple[ArtistMatch, ...]
    reason: str | None
    threshold: float
    gallery_size: int
    vocal_seconds: float
    sections: int
    encoder: ModelInfo
    # The least voice that can be embedded (identification.min_vocal_seconds).
    min_vocal_seconds: float = 0.0

    @property
    def answer(self) -> str:
        """``insufficient_vocals`` for every artist when no voice was embedded; else
        ``match`` when some artist matched, ``no_match`` when none did."""
        if self.reason == NO_VOCALS:
            return INSUFFICIENT_VOCALS
        return MATCH if any(m.match for m in self.matches) else NO_MATCH

    def to_json(self) -> dict[str, Any]:
        return {
            "matches": [m.to_json() for m in self.matches],
            "reason": self.reason,
            "threshold": self.threshold,
            "gallery_size": self.gallery_size,
            "vocal_seconds": self.vocal_seconds,
            "sections": self.sections,
            "encoder": self.encoder.as_dict(),
            "min_vocal_seconds": self.min_vocal_seconds,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> IdentifyOutput:
        return cls(
            tuple(ArtistMatch.from_json(m) for m in raw["matches"]),
            raw["reason"],
            raw["threshold"],
            raw["gallery_size"],
            raw["vocal_seconds"],
            raw["sections"],
            ModelInfo.from_dict(raw["encoder"]),
            raw.get("min_vocal_seconds", 0.0),
        )

    def report(self) -> dict[str, Any]:
        return {
            "artist_matches": [m.to_json() for m in self.matches],
            "identification": {
                "answer": self.answer,
                "reason": self.reason,
                "gallery_size": self.gallery_size,
                "vocal_seconds": self.vocal_seconds,
                "min_vocal_seconds": self.min_vocal_seconds,
                "sections": self.sections,
            },
            "thresholds": {"artist_match": self.threshold},
            "models": {"speaker_encoder": self.encoder.as_dict()},
        }


def run(runtime: Runtime, job: JobRef, inputs: IdentifyInput) -> IdentifyOutput:
    from workers.compute.identification import match_voice, min_vocal_seconds
    from workers.gallery_cache import load_gallery
    from workers.networks.weights import shipped_threshold, with_domain

    name, encoder, voice = embed_vocal_stem(runtime, inputs.separate)
    gallery = load_gallery(runtime.gallery_for(job))
    threshold = shipped_threshold(name)
    reason = NO_VOCALS if voice.track is None else EMPTY_GALLERY if not len(gallery) else None
    matches = match_voice(voice, gallery, threshold)
    return IdentifyOutput(
        tuple(matches),
        reason,
        threshold,
        len(gallery),
        voice.vocal_seconds,
        len(voice.sections),
        with_domain(encoder.info),
        min_vocal_seconds(encoder.window / encoder.sample_rate),
    )


def embed_vocal_stem(runtime: Runtime, separate: SeparateOutput) -> tuple[str, Any, VoiceEmbedding]:
    """The configured speaker encoder's name, the encoder, and its embedding of the job's
    vocal stem (vocal-active windows only); identify and enroll both start here."""
    from workers.compute.audio import read_mono
    from workers.compute.identification import embed_vocals

    name, encoder = load_encoder(runtime)
    with runtime.workdir() as tmp:
        runtime.storage.get_file(separate.vocals_key, tmp / "vocals.flac")
        # The encoder hears the mono stem: read it so, never the stereo whole.
        vocals, rate = read_mono(tmp / "vocals.flac")
    return name, encoder, embed_vocals(vocals, rate, encoder, separate.activity)


def load_encoder(runtime: Runtime) -> tuple[str, Any]:
    """The configured speaker encoder (the manifest's default unless set), once per process."""
    from workers.networks.registry import load_model, model_name

    settings = runtime.settings
    name = model_name("speaker-encoder", settings.speaker_encoder)
    encoder = load_model(
        "speaker-encoder",
        name,
        settings.weights_dir,
        settings.device,
        allow_download=settings.weights_download,
    )
    return name, encoder

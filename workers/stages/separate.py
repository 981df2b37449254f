"""Separate stage (gpu queue): split the canonical audio into vocals and accompaniment,
store the stems and where the vocals are active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import soundfile as sf

from app.jobstate import JobRef
from workers.compute.report import TIMELINE_HOP_SECONDS
from workers.compute.vocal_activity import VocalActivity
from workers.networks.roles import ModelInfo
from workers.runtime import Runtime
from workers.stages.ingest import IngestOutput


@dataclass(frozen=True)
class SeparateInput:
    ingest: IngestOutput


@dataclass(frozen=True)
class SeparateOutput:
    """The stems' storage keys, vocal activity, the separator used and quality warnings."""

    vocals_key: str
    accompaniment_key: str
    activity: VocalActivity
    separator: ModelInfo
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "vocals_key": self.vocals_key,
            "accompaniment_key": self.accompaniment_key,
            "activity": self.activity.to_json(),
            "separator": self.separator.as_dict(),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SeparateOutput:
        return cls(
            raw["vocals_key"],
            raw["accompaniment_key"],
            VocalActivity.from_json(raw["activity"]),
            ModelInfo.from_dict(raw["separator"]),
            tuple(raw["warnings"]),
        )

    def report(self) -> dict[str, Any]:
        return {
            "models": {"separator": self.separator.as_dict()},
            "artifacts": {"vocals": self.vocals_key, "accompaniment": self.accompaniment_key},
            "timeline": {"vocal_activity": self.activity.curve(TIMELINE_HOP_SECONDS)},
            "warnings": list(self.warnings),
        }


def run(runtime: Runtime, job: JobRef, inputs: SeparateInput) -> SeparateOutput:
    from workers.compute.canonical import write_flac
    from workers.compute.separation import separate
    from workers.networks.registry import model_name
    from workers.networks.separators import load_separator

    settings = runtime.settings
    separator, warnings = load_separator(
        model_name("separator", settings.separator),
        settings.weights_dir,
        settings.device,
        allow_download=settings.weights_download,
    )
    with runtime.workdir() as tmp:
        runtime.storage.get_file(inputs.ingest.canonical_key, tmp / "canonical.flac")
        mixture, rate = sf.read(tmp / "canonical.flac", dtype="float32", always_2d=True)
        result = separate(mixture.T, rate, separator, warnings)
        keys: dict[str, str] = {}
        for name, stem in (("vocals", result.vocals), ("accompaniment", result.accompaniment)):
            flac = write_flac(stem, rate, tmp / f"{name}.flac")
            keys[name] = runtime.store_artifact(job, name, flac, "audio/flac")
    return SeparateOutput(
        keys["vocals"], keys["accompaniment"], result.activity, result.separator, result.warnings
    )

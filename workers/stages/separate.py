"""Separate stage (gpu queue): split the canonical audio into vocals and accompaniment,
store the stems and where the vocals are active (the shipped vocal-activity classifier of
the mix; the energy rule of the stem, with a warning, when its checkpoint is missing)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import soundfile as sf

from app.jobstate import JobRef
from workers.compute.report import TIMELINE_HOP_SECONDS
from workers.compute.vocal_activity import VocalActivity
from workers.networks.roles import ModelInfo
from workers.runtime import Runtime
from workers.stages.ingest import IngestOutput

if TYPE_CHECKING:
    from workers.compute.vocal_classifier import VocalClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeparateInput:
    ingest: IngestOutput


@dataclass(frozen=True)
class SeparateOutput:
    """The stems' storage keys, vocal activity, the separator used, quality warnings and the
    vocal-activity classifier (None when the energy rule marked the active frames)."""

    vocals_key: str
    accompaniment_key: str
    activity: VocalActivity
    separator: ModelInfo
    warnings: tuple[str, ...]
    activity_model: ModelInfo | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "vocals_key": self.vocals_key,
            "accompaniment_key": self.accompaniment_key,
            "activity": self.activity.to_json(),
            "separator": self.separator.as_dict(),
            "warnings": list(self.warnings),
            "activity_model": self.activity_model and self.activity_model.as_dict(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SeparateOutput:
        return cls(
            raw["vocals_key"],
            raw["accompaniment_key"],
            VocalActivity.from_json(raw["activity"]),
            ModelInfo.from_dict(raw["separator"]),
            tuple(raw["warnings"]),
            raw.get("activity_model") and ModelInfo.from_dict(raw["activity_model"]),
        )

    def report(self) -> dict[str, Any]:
        models = {"separator": self.separator.as_dict()}
        if self.activity_model is not None:
            models["vocal_activity"] = self.activity_model.as_dict()
        return {
            "models": models,
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
    classifier, fallback = _vocal_classifier(settings.weights_dir)
    warnings = warnings + fallback
    with runtime.workdir() as tmp:
        runtime.storage.get_file(inputs.ingest.canonical_key, tmp / "canonical.flac")
        mixture, rate = sf.read(tmp / "canonical.flac", dtype="float32", always_2d=True)
        result = separate(mixture.T, rate, separator, warnings, classifier)
        keys: dict[str, str] = {}
        for name, stem in (("vocals", result.vocals), ("accompaniment", result.accompaniment)):
            flac = write_flac(stem, rate, tmp / f"{name}.flac")
            keys[name] = runtime.store_artifact(job, name, flac, "audio/flac")
    return SeparateOutput(
        keys["vocals"],
        keys["accompaniment"],
        result.activity,
        result.separator,
        result.warnings,
        result.activity_model,
    )


def _vocal_classifier(weights_dir: Path | None) -> tuple[VocalClassifier | None, tuple[str, ...]]:
    """The shipped vocal-activity classifier, or None and the warning saying why not."""
    from app.errors import WeightsMissingError
    from workers.compute.vocal_classifier import MODEL_NAME, load_shipped_classifier

    try:
        return load_shipped_classifier(weights_dir), ()
    except WeightsMissingError as exc:
        log.warning("vocal activity falls back to the energy rule (%s)", exc.detail)
        return None, (f"{MODEL_NAME} weights not installed: vocal activity from the energy rule",)

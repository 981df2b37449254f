"""Detect stage (gpu queue): score the vocal stem over the whole track with the configured
vocal detector and decide a verdict. Torch loads only when the stage runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import soundfile as sf

from app.jobstate import JobRef
from workers.compute.report import TIMELINE_HOP_SECONDS
from workers.models.roles import ModelInfo
from workers.runtime import Runtime
from workers.stages.separate import SeparateOutput


@dataclass(frozen=True)
class DetectInput:
    separate: SeparateOutput


@dataclass(frozen=True)
class DetectOutput:
    """Track scores, thresholds, verdict, timeline series and the detector used."""

    verdict: str
    scores: dict[str, float | None]
    thresholds: dict[str, float | None]
    timeline: dict[str, Any]
    models: dict[str, ModelInfo]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "scores": dict(self.scores),
            "thresholds": dict(self.thresholds),
            "timeline": dict(self.timeline),
            "models": {role: info.as_dict() for role, info in self.models.items()},
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DetectOutput:
        models = {role: ModelInfo.from_dict(info) for role, info in raw["models"].items()}
        return cls(
            raw["verdict"],
            raw["scores"],
            raw["thresholds"],
            raw["timeline"],
            models,
            tuple(raw["warnings"]),
        )

    def report(self) -> dict[str, Any]:
        return self.to_json()


def run(runtime: Runtime, job: JobRef, inputs: DetectInput) -> DetectOutput:
    from workers.compute.detection import detect, report_fragment
    from workers.models.registry import load_model, model_name
    from workers.models.weights import shipped_threshold

    settings = runtime.settings
    name = model_name("vocal-detector", settings.detector)
    detector = load_model(
        "vocal-detector",
        name,
        settings.weights_dir,
        settings.device,
        allow_download=settings.weights_download,
    )
    with runtime.workdir() as tmp:
        runtime.storage.get_file(inputs.separate.vocals_key, tmp / "vocals.flac")
        samples, rate = sf.read(tmp / "vocals.flac", dtype="float32", always_2d=True)
    vocals = samples.T
    result = detect(
        vocals,
        vocals,
        int(rate),
        detector,
        threshold=shipped_threshold(name),
        activity=inputs.separate.activity,
        hop_seconds=TIMELINE_HOP_SECONDS,
    )
    return DetectOutput.from_json(report_fragment(result))

"""Detect stage (gpu queue): score the vocal stem over the whole track with the configured
vocal detector and decide a verdict. Torch loads only when the stage runs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import soundfile as sf

from app.joboptions import deployment_options
from app.jobstate import JobRef
from workers.compute.report import TIMELINE_HOP_SECONDS
from workers.networks.roles import ModelInfo
from workers.runtime import Runtime
from workers.stages.ingest import IngestOutput
from workers.stages.separate import SeparateOutput


@dataclass(frozen=True)
class DetectInput:
    ingest: IngestOutput
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
    reasons: tuple[str, ...] = ()
    # The job's options as this stage applied them (app.joboptions.JobOptions.to_json()).
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "scores": dict(self.scores),
            "thresholds": dict(self.thresholds),
            "timeline": dict(self.timeline),
            "models": {role: info.as_dict() for role, info in self.models.items()},
            "warnings": list(self.warnings),
            "reasons": list(self.reasons),
            "options": dict(self.options),
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
            tuple(raw.get("reasons", ())),
            dict(raw.get("options", {})),
        )

    def report(self) -> dict[str, Any]:
        return self.to_json()


def _calibrated_on_singing(info: ModelInfo) -> bool:
    """Whether a vocal detector's threshold was calibrated on real singing (none is yet)."""
    return info.calibrated_on_music and info.domain == "singing"


def run(runtime: Runtime, job: JobRef, inputs: DetectInput) -> DetectOutput:
    from workers.compute.audio import read_mono
    from workers.compute.detection import detect, report_fragment
    from workers.networks.registry import specs_with_default
    from workers.networks.weights import music_thresholds, shipped_threshold, with_domain

    settings = runtime.settings
    options = job.options or deployment_options(settings)
    vocal_name, detector = "", None
    if options.vocal_detector:
        vocal_name, detector = _load(runtime, "vocal-detector", settings.detector)
    mix_name, mixture_detector, thresholds = "", None, None
    if specs_with_default("mixture-detector") or settings.mixture_detector:
        mix_name, mixture_detector = _load(runtime, "mixture-detector", settings.mixture_detector)
        thresholds = music_thresholds(mix_name)
    vocals = None  # the stem is read only for the vocal detector; activity says the rest
    with runtime.workdir() as tmp:
        if detector is not None:
            runtime.storage.get_file(inputs.separate.vocals_key, tmp / "vocals.flac")
            vocals = sf.read(tmp / "vocals.flac", dtype="float32", always_2d=True)[0].T
        runtime.storage.get_file(inputs.ingest.canonical_key, tmp / "mix.flac")
        # The mixture detector scores the mono mix: read it so, never the stereo whole.
        mono, rate = read_mono(tmp / "mix.flac")
    result = detect(
        vocals,
        mono[np.newaxis],
        int(rate),
        detector,
        threshold=shipped_threshold(vocal_name) if detector is not None else None,
        mixture_detector=mixture_detector,
        music_thresholds=thresholds,
        activity=inputs.separate.activity,
        hop_seconds=TIMELINE_HOP_SECONDS,
        vocals_calibrated=detector is not None
        and _calibrated_on_singing(with_domain(detector.info)),
    )
    output = DetectOutput.from_json(report_fragment(result))
    models = {role: with_domain(info) for role, info in output.models.items()}
    return replace(output, models=models, options=options.to_json())


def _load(runtime: Runtime, role: str, configured: str) -> tuple[str, Any]:
    from workers.networks.registry import load_model, model_name

    settings = runtime.settings
    name = model_name(role, configured)
    model = load_model(
        role, name, settings.weights_dir, settings.device, allow_download=settings.weights_download
    )
    return name, model

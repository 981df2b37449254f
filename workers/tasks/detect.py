"""Detect adapter: score the vocal stem (or the mix) over the whole track with the detector."""

from __future__ import annotations

from typing import Any

import soundfile as sf

from workers import jobstate
from workers.jobstate import JobRef
from workers.nn.registry import load_detector
from workers.pipeline.detect import detect, report_fragment, shipped_threshold
from workers.pipeline.report import TIMELINE_HOP_SECONDS
from workers.runtime import Runtime
from workers.tasks.separate import activity_from_json


def run(runtime: Runtime, job: JobRef) -> dict[str, Any]:
    settings = runtime.settings
    detector = load_detector(settings.detector, settings.weights_dir, settings.device)
    with runtime.session() as session:
        separated = jobstate.stage_output(session, job.id, "separate")
    with runtime.workdir() as tmp:
        mixture, rate = sf.read(runtime.fetch_artifact(job, "canonical", tmp / "mix.flac"),
                                dtype="float32", always_2d=True)
        vocals = activity = None
        if separated is not None:
            stem, _ = sf.read(runtime.fetch_artifact(job, "vocals", tmp / "vocals.flac"),
                              dtype="float32", always_2d=True)
            vocals, activity = stem.T, activity_from_json(separated["activity"])
    result = detect(vocals, mixture.T, rate, detector, threshold=shipped_threshold(detector.name),
                    activity=activity, hop_seconds=TIMELINE_HOP_SECONDS)
    return {"report": report_fragment(result)}

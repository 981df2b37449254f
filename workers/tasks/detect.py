"""Detect adapter: score the vocal stem (or the mix) over the whole track with the detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from workers import jobstate
from workers.jobstate import JobRef
from workers.nn.registry import detector_name, load_detector
from workers.pipeline.detect import detect, report_fragment, shipped_threshold
from workers.pipeline.report import TIMELINE_HOP_SECONDS
from workers.pipeline.vocal_activity import VocalActivity
from workers.runtime import Runtime


def run(runtime: Runtime, job: JobRef) -> dict[str, Any]:
    settings = runtime.settings
    detector = load_detector(detector_name(settings.detector), settings.weights_dir,
                             settings.device, allow_download=settings.weights_download)
    with runtime.session() as session:
        separated = jobstate.stage_output(session, job.id, "separate")
    vocals = activity = None
    with runtime.workdir() as tmp:
        # The mix is scored only when there is no vocal stem: fetch just the one source.
        if separated is None:
            audio, rate = _read(runtime.fetch_artifact(job, "canonical", tmp / "mix.flac"))
        else:
            audio, rate = _read(runtime.fetch_artifact(job, "vocals", tmp / "vocals.flac"))
            vocals, activity = audio, VocalActivity.from_json(separated["activity"])
    # detect() reads ``mixture`` only when ``vocals`` is None, so the stem stands in for it.
    result = detect(vocals, audio, rate, detector, threshold=shipped_threshold(detector.name),
                    activity=activity, hop_seconds=TIMELINE_HOP_SECONDS)
    return {"report": report_fragment(result)}


def _read(path: Path) -> tuple[np.ndarray, int]:
    """A stored FLAC as float32 (channels, n) and its sample rate."""
    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    return samples.T, int(rate)

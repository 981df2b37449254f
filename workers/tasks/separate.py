"""Separate adapter: split the canonical audio into vocals and accompaniment, store the stems."""

from __future__ import annotations

from typing import Any

import numpy as np
import soundfile as sf

from workers.jobstate import JobRef
from workers.pipeline.ingest import write_flac
from workers.pipeline.report import TIMELINE_HOP_SECONDS
from workers.pipeline.separate import Separation, load_separator, separate
from workers.pipeline.vocal_activity import VocalActivity
from workers.runtime import Runtime


def run(runtime: Runtime, job: JobRef) -> dict[str, Any]:
    settings = runtime.settings
    separator, warnings = load_separator(settings.separator, settings.weights_dir, settings.device)
    with runtime.workdir() as tmp:
        mixture, rate = sf.read(runtime.fetch_artifact(job, "canonical", tmp / "canonical.flac"),
                                dtype="float32", always_2d=True)
        result = separate(mixture.T, rate, separator, warnings)
        keys = {name: runtime.store_artifact(job, name, write_flac(stem, rate, tmp / f"{name}.flac"),
                                             "audio/flac")
                for name, stem in (("vocals", result.vocals),
                                   ("accompaniment", result.accompaniment))}
    return {"activity": activity_to_json(result.activity), "report": report_fragment(result, keys)}


def report_fragment(result: Separation, keys: dict[str, str]) -> dict[str, Any]:
    activity = result.activity
    seconds = len(activity.active) * activity.hop_seconds
    curve = [round(activity.fraction_active(t, t + TIMELINE_HOP_SECONDS), 3)
             for t in np.arange(0.0, seconds, TIMELINE_HOP_SECONDS)]
    return {"models": {"separator": result.separator.as_dict()}, "artifacts": keys,
            "timeline": {"vocal_activity": curve}, "warnings": list(result.warnings)}


def activity_to_json(activity: VocalActivity) -> dict[str, Any]:
    return {"hop_seconds": activity.hop_seconds,
            "level": [round(float(v), 2) for v in activity.level],
            "active": [bool(v) for v in activity.active]}


def activity_from_json(data: dict[str, Any]) -> VocalActivity:
    return VocalActivity(hop_seconds=float(data["hop_seconds"]),
                         level=np.asarray(data["level"], dtype=np.float32),
                         active=np.asarray(data["active"], dtype=bool))

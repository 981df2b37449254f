"""Separate adapter: split the canonical audio into vocals and accompaniment, store the stems."""

from __future__ import annotations

from typing import Any

import soundfile as sf

from workers.jobstate import JobRef
from workers.pipeline.ingest import write_flac
from workers.pipeline.report import TIMELINE_HOP_SECONDS
from workers.pipeline.separate import Separation, load_separator, separate, separator_name
from workers.runtime import Runtime


def run(runtime: Runtime, job: JobRef) -> dict[str, Any]:
    settings = runtime.settings
    separator, warnings = load_separator(separator_name(settings.separator), settings.weights_dir,
                                         settings.device, allow_download=settings.weights_download)
    with runtime.workdir() as tmp:
        mixture, rate = sf.read(runtime.fetch_artifact(job, "canonical", tmp / "canonical.flac"),
                                dtype="float32", always_2d=True)
        result = separate(mixture.T, rate, separator, warnings)
        keys: dict[str, str] = {}
        for name, stem in (("vocals", result.vocals), ("accompaniment", result.accompaniment)):
            flac = write_flac(stem, rate, tmp / f"{name}.flac")
            keys[name] = runtime.store_artifact(job, name, flac, "audio/flac")
    return {"activity": result.activity.to_json(), "report": report_fragment(result, keys)}


def report_fragment(result: Separation, keys: dict[str, str]) -> dict[str, Any]:
    return {"models": {"separator": result.separator.as_dict()}, "artifacts": keys,
            "timeline": {"vocal_activity": result.activity.curve(TIMELINE_HOP_SECONDS)},
            "warnings": list(result.warnings)}

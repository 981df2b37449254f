"""Localize stage (cpu queue): turn the score curves into synthetic regions and draw the
timeline picture (a PNG artifact). numpy and matplotlib only: no torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.jobstate import JobRef
from workers.compute.localization import (
    LocalizationParams,
    Region,
    localization_params,
    localize,
)
from workers.compute.timeline_plot import ScoreCurve, TimelinePicture
from workers.runtime import Runtime
from workers.stages.detect import DetectOutput
from workers.stages.ingest import IngestOutput
from workers.stages.separate import SeparateOutput


@dataclass(frozen=True)
class LocalizeInput:
    ingest: IngestOutput
    separate: SeparateOutput
    detect: DetectOutput


@dataclass(frozen=True)
class LocalizeOutput:
    """The regions, the parameters that decided them and the picture's storage key."""

    regions: tuple[Region, ...]
    localization: dict[str, Any]
    timeline_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "regions": [region.to_json() for region in self.regions],
            "localization": self.localization,
            "timeline_key": self.timeline_key,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LocalizeOutput:
        regions = tuple(Region.from_json(region) for region in raw["regions"])
        return cls(regions, raw["localization"], raw["timeline_key"])

    def report(self) -> dict[str, Any]:
        return {
            "regions": [region.to_json() for region in self.regions],
            "localization": self.localization,
            "artifacts": {"timeline": self.timeline_key},
        }


def run(runtime: Runtime, job: JobRef, inputs: LocalizeInput) -> LocalizeOutput:
    from workers.compute.audio import read_mono
    from workers.compute.timeline_plot import render_png, waveform_envelope

    detect = inputs.detect
    hop = float(detect.timeline["hop_seconds"])
    params, skipped = localization_params(runtime.settings, detect.models, detect.thresholds)
    regions = localize(detect.timeline, hop, inputs.ingest.duration_seconds, detect.verdict, params)
    with runtime.workdir() as tmp:
        runtime.storage.get_file(inputs.ingest.canonical_key, tmp / "mix.flac")
        mono, _rate = read_mono(tmp / "mix.flac")
        envelope = waveform_envelope(mono)
        del mono
        picture = timeline_picture(_title(job), inputs, envelope, regions, params)
        png = tmp / "timeline.png"
        png.write_bytes(render_png(picture))
        key = runtime.store_artifact(job, "timeline", png, "image/png")
    localization = {**params.to_json(), "hop_seconds": hop, "not_localized": skipped}
    return LocalizeOutput(tuple(regions), localization, key)


def timeline_picture(
    title: str,
    inputs: LocalizeInput,
    envelope: tuple[Any, Any],
    regions: list[Region],
    params: LocalizationParams,
) -> TimelinePicture:
    """What the picture shows: each scored curve with the thresholds that apply to it."""
    detect = inputs.detect
    curves = []
    for source in ("mixture", "vocals"):
        values = detect.timeline.get(source) or []
        if not any(v is not None for v in values):
            continue
        marks = {}
        if source == "mixture":
            marks = {
                "synthetic verdict": detect.thresholds.get("mixture"),
                "authentic verdict": detect.thresholds.get("mixture_authentic"),
            }
        elif source not in params.thresholds:
            marks = {"threshold (not calibrated on music)": detect.thresholds.get(source)}
        if source in params.thresholds:
            hysteresis = params.thresholds[source]
            marks |= {"region on": hysteresis.on, "region off": hysteresis.off}
        shown = {name: value for name, value in marks.items() if value is not None}
        curves.append(ScoreCurve(source, values, shown))
    verdict = detect.verdict
    return TimelinePicture(
        title=f"{title}: {verdict.replace('_', ' ')}",
        verdict=verdict,
        duration_seconds=inputs.ingest.duration_seconds,
        hop_seconds=float(detect.timeline["hop_seconds"]),
        envelope=envelope,
        vocal_activity=inputs.separate.activity.curve(float(detect.timeline["hop_seconds"])),
        curves=curves,
        regions=[(r.start, r.end, r.source) for r in regions],
    )


def _title(job: JobRef) -> str:
    source = job.source
    return source.filename or source.url or (source.key or "").rsplit("/", 1)[-1] or "track"

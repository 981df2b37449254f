"""Localization: where a track looks synthetic, as time regions cut from score curves.

A score curve is one value per frame of the report's hop (frame j covers
[j*hop, (j+1)*hop), the last one cut short by the end of the track), None where nothing was
measured. Regions come from hysteresis: a region is a maximal run of frames at or above the
``off`` threshold that holds at least one frame at or above ``on``. Runs closer than
``merge_gap_seconds`` are merged, then regions shorter than ``min_duration_seconds`` are
dropped. Unmeasured frames (None) never belong to a region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from workers.compute.report import LIKELY_AUTHENTIC
from workers.networks.roles import ModelInfo

# Which model of the report scores each timeline source.
SOURCE_ROLES = {"mixture": "mixture_detector", "vocals": "vocal_detector"}


@dataclass(frozen=True)
class Hysteresis:
    """The two thresholds of one source's curve: a region starts only where the curve
    reaches ``on`` and extends while it stays at or above ``off`` (``off <= on``)."""

    on: float
    off: float

    def __post_init__(self) -> None:
        if not self.off <= self.on:
            raise ValueError(f"the off threshold {self.off} exceeds the on threshold {self.on}")


@dataclass(frozen=True)
class LocalizationParams:
    """Everything that decides regions; recorded in the report as ``localization``."""

    thresholds: Mapping[str, Hysteresis]
    min_duration_seconds: float
    merge_gap_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "thresholds": {
                source: {"on": h.on, "off": h.off} for source, h in self.thresholds.items()
            },
            "min_duration_seconds": self.min_duration_seconds,
            "merge_gap_seconds": self.merge_gap_seconds,
        }


@dataclass(frozen=True)
class Region:
    """A span of the track (seconds) that looks synthetic to ``source``'s detector;
    ``score``: the mean of the curve over the region's measured frames."""

    start: float
    end: float
    score: float
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "score": self.score,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Region:
        return cls(float(raw["start"]), float(raw["end"]), float(raw["score"]), raw["source"])


def extract_regions(
    curve: Sequence[float | None],
    hop_seconds: float,
    duration_seconds: float,
    source: str,
    hysteresis: Hysteresis,
    min_duration_seconds: float,
    merge_gap_seconds: float,
) -> list[Region]:
    """Regions of one score curve, in time order (see the module docstring for the rule)."""
    runs = _hysteresis_runs(curve, hysteresis)
    merged: list[tuple[int, int]] = []
    for first, last in runs:
        if merged and (first - merged[-1][1] - 1) * hop_seconds < merge_gap_seconds:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    regions = []
    for first, last in merged:
        start = first * hop_seconds
        end = min((last + 1) * hop_seconds, duration_seconds)
        if end - start < min_duration_seconds:
            continue
        measured = [v for v in curve[first : last + 1] if v is not None]
        regions.append(Region(start, end, sum(measured) / len(measured), source))
    return regions


def _hysteresis_runs(
    curve: Sequence[float | None], hysteresis: Hysteresis
) -> list[tuple[int, int]]:
    """(first, last) frame of every maximal run at or above ``off`` that reaches ``on``."""
    runs, first, reached = [], None, False
    for j, value in enumerate([*curve, None]):
        if value is not None and value >= hysteresis.off:
            first = j if first is None else first
            reached = reached or value >= hysteresis.on
            continue
        if first is not None and reached:
            runs.append((first, j - 1))
        first, reached = None, False
    return runs


def localize(
    curves: Mapping[str, Sequence[float | None]],
    hop_seconds: float,
    duration_seconds: float,
    verdict: str,
    params: LocalizationParams,
) -> list[Region]:
    """Regions of every curve that has thresholds in ``params``, sorted by start time.

    A track judged authentic has none: the verdict comes from the detector calibrated on
    the whole track, and a region would contradict it.
    """
    if verdict == LIKELY_AUTHENTIC:
        return []
    regions = [
        region
        for source, hysteresis in params.thresholds.items()
        for region in extract_regions(
            curves.get(source) or [],
            hop_seconds,
            duration_seconds,
            source,
            hysteresis,
            params.min_duration_seconds,
            params.merge_gap_seconds,
        )
    ]
    return sorted(regions, key=lambda r: (r.start, r.source))


def localized_sources(
    models: Mapping[str, ModelInfo],
    thresholds: Mapping[str, float | None],
    mixture: Hysteresis,
) -> tuple[dict[str, Hysteresis], dict[str, str]]:
    """The hysteresis of each source that gets regions, and why each other source does not.

    Only a detector calibrated on real music draws regions (as only such a detector decides
    a verdict): the mixture detector with ``mixture`` (from the settings); a vocal detector
    so calibrated would use its own threshold for both edges.
    """
    chosen: dict[str, Hysteresis] = {}
    skipped: dict[str, str] = {}
    for source, role in SOURCE_ROLES.items():
        model, threshold = models.get(role), thresholds.get(source)
        if model is None or threshold is None:
            skipped[source] = "no detector calibrated for it scored the track"
        elif not model.calibrated_on_music:
            skipped[source] = f"{model.name} is not calibrated on music: drawn, not localized"
        else:
            chosen[source] = mixture if source == "mixture" else Hysteresis(threshold, threshold)
    return chosen, skipped


def localization_params(
    settings: Settings, models: Mapping[str, ModelInfo], thresholds: Mapping[str, float | None]
) -> tuple[LocalizationParams, dict[str, str]]:
    """The parameters from the settings for a track scored by ``models`` with ``thresholds``
    (the report's), and why each source left out is not localized. ``soundscape
    evaluate-localization`` uses this too, so it measures what the service does."""
    chosen, skipped = localized_sources(models, thresholds, mixture_hysteresis(settings))
    params = LocalizationParams(
        chosen, settings.region_min_seconds, settings.region_merge_gap_seconds
    )
    return params, skipped


def mixture_hysteresis(settings: Settings) -> Hysteresis:
    return Hysteresis(settings.region_on_threshold, settings.region_off_threshold)

"""Evaluate localization on a folder of partial fakes: score each file with the full-mix
detector, cut regions as the localize stage does, count against the ground truth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config import Settings
from training.evaluation.localization_metrics import Counts, Span, event_counts, segment_counts
from workers.compute.audio import decode_file
from workers.compute.detection import score_mixture
from workers.compute.localization import localization_params, localize
from workers.compute.report import TIMELINE_HOP_SECONDS
from workers.compute.verdict import decide_verdict
from workers.compute.windows import timeline_at_hop

RATE = 44100


class LocalizationDataError(ValueError):
    """The evaluation folder or its regions.json is not usable."""


@dataclass(frozen=True)
class FileResult:
    name: str
    truth: list[Span]
    found: list[Span]
    segments: Counts
    events: Counts


@dataclass(frozen=True)
class LocalizationResult:
    files: list[FileResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Exactly what ``--json`` prints: micro-averaged F1s and the number of files."""
        segments = sum((f.segments for f in self.files), Counts())
        events = sum((f.events for f in self.files), Counts())
        return {"segment_f1": segments.f1, "event_f1": events.f1, "n_files": len(self.files)}


def load_truth(data_dir: Path) -> dict[str, list[Span]]:
    """``regions.json`` of ``data_dir``, checked: every file exists, every span is ordered."""
    path = data_dir / "regions.json"
    if not path.is_file():
        raise LocalizationDataError(f"{data_dir} holds no regions.json (see make-partial)")
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise LocalizationDataError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise LocalizationDataError(f"{path} must map file names to [[start, end], ...]")
    truth: dict[str, list[Span]] = {}
    for name, spans in raw.items():
        if not (data_dir / name).is_file():
            raise LocalizationDataError(f"{path} lists {name}, which is not in {data_dir}")
        truth[name] = [_span(name, span) for span in _list(name, spans)]
    return truth


def _list(name: str, spans: Any) -> list[Any]:
    if not isinstance(spans, list):
        raise LocalizationDataError(f"regions of {name} must be a list of [start, end]")
    return spans


def _span(name: str, span: Any) -> Span:
    ok = isinstance(span, list) and len(span) == 2
    ok = ok and all(isinstance(v, int | float) for v in span) and 0 <= span[0] < span[1]
    if not ok:
        raise LocalizationDataError(f"region {span!r} of {name} is not [start, end] seconds")
    return float(span[0]), float(span[1])


def evaluate_localization(
    data_dir: Path, truth: Mapping[str, list[Span]], settings: Settings
) -> LocalizationResult:
    """Regions found in each file by the configured mixture detector, and the counts."""
    from workers.networks.registry import load_model, model_name
    from workers.networks.weights import music_thresholds, with_domain

    name = model_name("mixture-detector", settings.mixture_detector)
    detector = load_model(
        "mixture-detector", name, settings.weights_dir, settings.device, settings.weights_download
    )
    music = music_thresholds(name)
    models = {"mixture_detector": with_domain(detector.info)}
    params, _skipped = localization_params(settings, models, {"mixture": music.synthetic})
    files = []
    for file_name, spans in truth.items():
        audio = decode_file(data_dir / file_name, RATE, 2)
        duration = audio.shape[-1] / RATE
        windows = score_mixture(audio, RATE, detector, TIMELINE_HOP_SECONDS)
        curve = timeline_at_hop(
            windows.starts_seconds,
            windows.ends_seconds,
            windows.scores,
            duration,
            TIMELINE_HOP_SECONDS,
        )
        verdict = decide_verdict(windows.track_score, music)
        regions = localize({"mixture": curve}, TIMELINE_HOP_SECONDS, duration, verdict, params)
        found = [(r.start, r.end) for r in regions]
        files.append(
            FileResult(
                file_name,
                spans,
                found,
                segment_counts(spans, found, duration),
                event_counts(spans, found),
            )
        )
    return LocalizationResult(files)

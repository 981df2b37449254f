"""Detection: score vocals in overlapping windows over the whole track, then decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from workers.compute.audio import resample, to_mono
from workers.compute.report import INCONCLUSIVE, LIKELY_AUTHENTIC, LIKELY_SYNTHETIC
from workers.compute.windows import (
    MIN_VOCAL_FRACTION,
    aggregate_track_score,
    extract_windows,
    log_odds,
    timeline_at_hop,
    window_bounds_seconds,
    window_starts,
)
from workers.models.roles import ModelInfo, WindowDetector

# Half-width of the inconclusive band around a model's threshold, in log-odds: a score
# must be e (~2.7) times more or less likely synthetic than the threshold's odds. Log-odds,
# not probability, because calibrated thresholds of these detectors sit above 0.99, where a
# fixed probability margin would put "likely synthetic" above 1.
DEFAULT_MARGIN = 1.0


class VocalActivityLike(Protocol):
    """workers.compute.vocal_activity.VocalActivity, or anything answering the same question."""

    def fraction_active(self, start_s: float, end_s: float) -> float: ...


@dataclass(frozen=True)
class WindowScores:
    """Per-window P(synthetic) of one source; ``None`` for a window left unscored (no vocals).

    Times are seconds from the start of the track; a window's end never passes the track's
    end (a short track's single window is padded, its span is the real audio only).
    """

    source: str
    hop_seconds: float
    starts_seconds: tuple[float, ...]
    ends_seconds: tuple[float, ...]
    scores: tuple[float | None, ...]

    @property
    def track_score(self) -> float | None:
        """The robust track aggregate (``aggregate_track_score``) of these windows."""
        return aggregate_track_score(self.scores, self.hop_seconds)

    @property
    def n_scored(self) -> int:
        return sum(score is not None for score in self.scores)


@dataclass(frozen=True)
class Detection:
    """The stage's result: track scores, thresholds, verdict, timeline, windows, models."""

    scores: dict[str, float | None]
    thresholds: dict[str, float | None]
    verdict: str
    timeline: dict[str, Any]
    windows: tuple[WindowScores, ...]
    models: dict[str, ModelInfo]
    warnings: tuple[str, ...] = field(default_factory=tuple)


def prepare_mono(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """(channels, n) or (n,) float audio at ``sample_rate`` -> float32 mono (m,) at
    ``target_rate``."""
    mono = np.asarray(to_mono(np.asarray(samples, dtype=np.float32)), dtype=np.float32)
    return resample(mono, sample_rate, target_rate)


def score_windows(
    signal: np.ndarray,
    detector: WindowDetector,
    *,
    source: str = "vocals",
    hop_seconds: float = 1.0,
    batch_size: int = 16,
    activity: VocalActivityLike | None = None,
) -> WindowScores:
    """Score a mono float32 signal (n,) at ``detector.sample_rate`` window by window.

    With ``activity``, only windows whose span is at least MIN_VOCAL_FRACTION vocal-active
    are run through the model; the others are None (unknown), never counted as authentic.
    """
    rate, window = detector.sample_rate, detector.window
    hop = max(1, round(hop_seconds * rate))
    starts = window_starts(len(signal), window, hop)
    begins, ends = window_bounds_seconds(starts, window, len(signal), rate)
    keep = [
        activity is None or activity.fraction_active(b, e) >= MIN_VOCAL_FRACTION
        for b, e in zip(begins, ends, strict=True)
    ]
    scored = iter(_run_batches(signal, starts[np.array(keep, dtype=bool)], detector, batch_size))
    scores = tuple(next(scored) if k else None for k in keep)
    return WindowScores(source, hop_seconds, begins, ends, scores)


def _run_batches(
    signal: np.ndarray, starts: np.ndarray, detector: WindowDetector, batch_size: int
) -> list[float]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    out: list[float] = []
    for first in range(0, len(starts), batch_size):
        batch = extract_windows(signal, starts[first : first + batch_size], detector.window)
        with torch.inference_mode():
            probs = detector.score_batch(torch.from_numpy(batch))
        values = probs.detach().to("cpu", torch.float64).reshape(-1).numpy()
        if values.shape != (len(batch),):
            raise RuntimeError(f"{detector.name} returned {values.shape} for {len(batch)} windows")
        out.extend(float(v) for v in values)
    return out


def score_track(
    samples: np.ndarray,
    sample_rate: int,
    detector: WindowDetector,
    *,
    hop_seconds: float = 1.0,
    batch_size: int = 16,
) -> float | None:
    """Track score of audio (channels, n) or (n,) at ``sample_rate``: what ``detect`` reports.

    Every window is scored (no vocal activity); evaluation uses this so that it measures
    the service's own windowing and aggregate.
    """
    mono = prepare_mono(samples, sample_rate, detector.sample_rate)
    return score_windows(mono, detector, hop_seconds=hop_seconds, batch_size=batch_size).track_score


def decide_verdict(overall: float | None, threshold: float, margin: float) -> str:
    """Synthetic when logit(overall) >= logit(threshold) + margin, authentic when
    <= logit(threshold) - margin, inconclusive between or when nothing was scored."""
    if overall is None:
        return INCONCLUSIVE
    gap = log_odds(overall) - log_odds(threshold)
    if gap >= margin:
        return LIKELY_SYNTHETIC
    if gap <= -margin:
        return LIKELY_AUTHENTIC
    return INCONCLUSIVE


def detect(
    vocals: np.ndarray | None,
    mixture: np.ndarray,
    sample_rate: int,
    detector: WindowDetector,
    *,
    threshold: float,
    margin: float = DEFAULT_MARGIN,
    activity: VocalActivityLike | None = None,
    hop_seconds: float = 1.0,
    batch_size: int = 16,
) -> Detection:
    """Score a track's vocals over its whole length and decide a verdict.

    ``vocals`` and ``mixture``: float32 (channels, n) at ``sample_rate`` (any rate; they are
    down-mixed and resampled to the detector's). With ``vocals`` None the mixture is scored
    as the vocal source and a warning says so. No full-mix (synthetic music) detector has
    weights yet, so the ``mixture`` score stays None: it is never invented.
    """
    warnings: list[str] = []
    source = vocals
    if source is None:
        source = mixture
        warnings.append("no vocal stem: the full mix was scored with the vocal detector")
    mono = prepare_mono(source, sample_rate, detector.sample_rate)
    vocal_windows = score_windows(
        mono, detector, hop_seconds=hop_seconds, batch_size=batch_size, activity=activity
    )
    overall = vocal_windows.track_score
    if overall is None:
        warnings.append("no vocal-active window: nothing was scored")
    duration = len(mono) / detector.sample_rate
    timeline = {
        "hop_seconds": hop_seconds,
        "vocals": timeline_at_hop(
            vocal_windows.starts_seconds,
            vocal_windows.ends_seconds,
            vocal_windows.scores,
            duration,
            hop_seconds,
        ),
        "mixture": [],
    }
    return Detection(
        scores={"vocals": overall, "mixture": None, "overall": overall},
        thresholds={"vocals": threshold, "mixture": None},
        verdict=decide_verdict(overall, threshold, margin),
        timeline=timeline,
        windows=(vocal_windows,),
        models={"vocal_detector": detector.info},
        warnings=tuple(warnings),
    )


def report_fragment(detection: Detection) -> dict[str, Any]:
    """The report keys this stage owns, as plain JSON-able values (see docs/architecture.md)."""
    return {
        "verdict": detection.verdict,
        "scores": dict(detection.scores),
        "thresholds": dict(detection.thresholds),
        "timeline": {key: _plain(value) for key, value in detection.timeline.items()},
        "models": {role: info.as_dict() for role, info in detection.models.items()},
        "warnings": list(detection.warnings),
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value

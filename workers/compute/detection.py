"""Detection: score the vocals and the full mix in overlapping windows over the whole track,
then decide from the detector calibrated on real music."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from workers.compute.audio import resample, to_mono
from workers.compute.verdict import decide_verdict, explain_verdict, explain_withheld
from workers.compute.windows import (
    MIN_VOCAL_FRACTION,
    VOCAL_WINDOW_SECONDS,
    aggregate_track_score,
    extract_windows,
    timeline_at_hop,
    window_bounds_seconds,
    window_starts,
)
from workers.networks.roles import MixtureDetector, ModelInfo, MusicThresholds, WindowDetector


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
    reasons: tuple[str, ...] = field(default_factory=tuple)


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
    starts, begins, ends, keep = _vocal_windows(len(signal), rate, window, hop_seconds, activity)
    scored = iter(_run_batches(signal, starts[np.array(keep, dtype=bool)], detector, batch_size))
    scores = tuple(next(scored) if k else None for k in keep)
    return WindowScores(source, hop_seconds, begins, ends, scores)


def has_vocal_window(duration: float, hop_seconds: float, activity: VocalActivityLike) -> bool:
    """Whether any vocal-detector-sized window of the track is vocal-active enough to be
    scored: what ``detect`` calls vocals present when the vocal detector does not run."""
    rate = 1000  # window bounds to the millisecond are all this needs
    window = round(VOCAL_WINDOW_SECONDS * rate)
    keep = _vocal_windows(round(duration * rate), rate, window, hop_seconds, activity)[3]
    return any(keep)


def _vocal_windows(
    n_samples: int,
    rate: int,
    window: int,
    hop_seconds: float,
    activity: VocalActivityLike | None,
) -> tuple[np.ndarray, tuple[float, ...], tuple[float, ...], list[bool]]:
    """Window starts (samples), spans (seconds) and which windows are vocal-active."""
    hop = max(1, round(hop_seconds * rate))
    starts = window_starts(n_samples, window, hop)
    begins, ends = window_bounds_seconds(starts, window, n_samples, rate)
    keep = [
        activity is None or activity.fraction_active(b, e) >= MIN_VOCAL_FRACTION
        for b, e in zip(begins, ends, strict=True)
    ]
    return starts, begins, ends, keep


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


def score_mixture(
    mixture: np.ndarray, sample_rate: int, detector: MixtureDetector, hop_seconds: float
) -> WindowScores:
    """Window scores of the full mix (channels, n) at ``sample_rate`` by a mixture detector."""
    mono = prepare_mono(mixture, sample_rate, detector.sample_rate)
    starts, ends, scores = detector.score_track(mono, hop_seconds)
    return WindowScores("mixture", hop_seconds, starts, ends, tuple(scores))


def _series(windows: WindowScores | None, duration: float, hop: float) -> list[float | None]:
    if windows is None:
        return []
    return timeline_at_hop(
        windows.starts_seconds, windows.ends_seconds, windows.scores, duration, hop
    )


def detect(
    vocals: np.ndarray | None,
    mixture: np.ndarray,
    sample_rate: int,
    detector: WindowDetector | None,
    *,
    threshold: float | None,
    mixture_detector: MixtureDetector | None = None,
    music_thresholds: MusicThresholds | None = None,
    activity: VocalActivityLike | None = None,
    hop_seconds: float = 1.0,
    batch_size: int = 16,
    vocals_calibrated: bool = False,
) -> Detection:
    """Score a track's vocals and its full mix over their whole length, and decide.

    ``vocals`` and ``mixture``: float32 (channels, n) at ``sample_rate`` (any rate; each
    detector down-mixes and resamples). With ``vocals`` None the mixture is scored by the
    vocal detector too, with a warning. ``detector`` None: the vocal detector is off (it
    does not count toward the verdict); whether vocals are present is then read from
    ``activity`` on windows of the vocal detectors' length. Only the mixture detector,
    calibrated on real music (``music_thresholds``), decides the verdict; the vocal
    detector, trained on speech, reports its score and its reason but never makes a track
    synthetic or authentic, and a track with vocal-active windows is never
    likely_authentic unless ``vocals_calibrated`` (its threshold was calibrated on real
    singing; none is yet: ``workers.compute.verdict``).
    """
    duration = mixture.shape[-1] / sample_rate
    vocal, warnings = _score_vocals(
        vocals, mixture, sample_rate, detector, hop_seconds, batch_size, activity
    )
    mix = None
    if mixture_detector is not None:
        mix = score_mixture(mixture, sample_rate, mixture_detector, hop_seconds)
        if mix.n_scored < len(mix.scores):
            warnings.append(
                f"{len(mix.scores) - mix.n_scored} of {len(mix.scores)} full-mix windows too "
                "quiet to score (near-silence): the mixture detector left them unscored"
            )
    mix_score = None if mix is None else mix.track_score
    mix_name = "" if mixture_detector is None else mixture_detector.name
    reasons = [explain_verdict(mix_name, mix_score, music_thresholds)]
    # Vocals count as present when vocal-active windows were found, or when there is no
    # stem to tell (then nothing says the track is instrumental).
    if vocal is not None:
        vocals_present = vocals is None or vocal.track_score is not None
    else:
        vocals_present = activity is None or has_vocal_window(duration, hop_seconds, activity)
    judged = vocals_calibrated and vocal is not None and vocal.track_score is not None
    verdict = decide_verdict(
        mix_score, music_thresholds, vocals_present=vocals_present, vocals_judged=judged
    )
    withheld = explain_withheld(vocals_present, vocals_judged=judged)
    if withheld is not None and verdict != decide_verdict(mix_score, music_thresholds):
        reasons.append(withheld)
    if vocal is not None and vocal.track_score is not None and detector is not None:
        reasons.append(
            f"vocal detector {detector.name} {vocal.track_score:.4f} (threshold {threshold:.4f}) "
            "is not calibrated on music: reported, not used for the verdict"
        )
    models = {} if detector is None else {"vocal_detector": detector.info}
    if mixture_detector is not None:
        models["mixture_detector"] = mixture_detector.info
    vocal_score = None if vocal is None else vocal.track_score
    return Detection(
        scores={"vocals": vocal_score, "mixture": mix_score, "overall": mix_score},
        thresholds={
            "vocals": threshold if detector is not None else None,
            "mixture": None if music_thresholds is None else music_thresholds.synthetic,
            "mixture_authentic": None if music_thresholds is None else music_thresholds.authentic,
        },
        verdict=verdict,
        reasons=tuple(reasons),
        timeline={
            "hop_seconds": hop_seconds,
            "vocals": _series(vocal, duration, hop_seconds),
            "mixture": _series(mix, duration, hop_seconds),
        },
        windows=tuple(w for w in (vocal, mix) if w is not None),
        models=models,
        warnings=tuple(warnings),
    )


def _score_vocals(
    vocals: np.ndarray | None,
    mixture: np.ndarray,
    sample_rate: int,
    detector: WindowDetector | None,
    hop_seconds: float,
    batch_size: int,
    activity: VocalActivityLike | None,
) -> tuple[WindowScores | None, list[str]]:
    """The vocal detector's windows (None when it is off) and the warnings they raise."""
    if detector is None:
        return None, []
    warnings: list[str] = []
    if vocals is None:
        warnings.append("no vocal stem: the full mix was scored with the vocal detector")
    mono = prepare_mono(mixture if vocals is None else vocals, sample_rate, detector.sample_rate)
    vocal = score_windows(
        mono, detector, hop_seconds=hop_seconds, batch_size=batch_size, activity=activity
    )
    if vocal.track_score is None:
        warnings.append("no vocal-active window: the vocal detector scored nothing")
    return vocal, warnings


def report_fragment(detection: Detection) -> dict[str, Any]:
    """The report keys this stage owns, as plain JSON-able values (see docs/architecture.md)."""
    return {
        "verdict": detection.verdict,
        "scores": dict(detection.scores),
        "thresholds": dict(detection.thresholds),
        "timeline": {key: _plain(value) for key, value in detection.timeline.items()},
        "models": {role: info.as_dict() for role, info in detection.models.items()},
        "reasons": list(detection.reasons),
        "warnings": list(detection.warnings),
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value

"""Calibration on real music: the calibration split scored as the service scores a track,
under every codec condition, and the synthetic and authentic thresholds set from it."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta

from training.conditions import apply_condition, available_conditions
from training.corpus.records import TrackRecord
from training.datasets import (
    REAL,
    ExampleSet,
    excerpt_starts,
    read_excerpt,
    single_thread,
)
from training.evaluation.metrics import choose_threshold
from training.recipes.config import Progress, TrainConfig
from workers.compute.windows import aggregate_track_score
from workers.mixture.classifier import (
    MixtureClassifier,
    predict,
    track_windows,
)
from workers.mixture.features import SAMPLE_RATE

SCORING_HOP_SECONDS = 1.0


# Full-strength fakes of the validation split below the authentic threshold: at most this share.
AUTHENTIC_MISS_RATE = 0.05


@dataclass(frozen=True)
class CalibrationItem:
    """One real calibration excerpt under one codec condition, as window features."""

    track_id: str
    start: float
    condition: str
    has_vocals: bool
    kind: str  # the track's kind: music, or other real audio (corpus.OTHER)
    features: np.ndarray  # (windows, n_features) at SCORING_HOP_SECONDS
    audible: np.ndarray  # (windows,) bool: loud enough to score


def _calibration_item(job: tuple[Path, TrackRecord, float, float]) -> list[CalibrationItem]:
    path, track, start, seconds = job
    audio = read_excerpt(path, start, seconds)
    items = []
    for condition in available_conditions():
        coded = apply_condition(audio, SAMPLE_RATE, condition)
        windows = track_windows(coded.mean(axis=0), SCORING_HOP_SECONDS)
        items.append(
            CalibrationItem(
                track.track_id,
                start,
                condition,
                track.has_vocals,
                track.kind,
                windows.features,
                windows.audible,
            )
        )
    return items


def calibration_items(
    corpus_dir: Path, tracks: list[TrackRecord], config: TrainConfig, progress: Progress | None
) -> list[CalibrationItem]:
    """Window features of calibration excerpts under every available codec condition; they
    do not depend on the model, so the recipe computes them once per corpus and settings."""
    rng = np.random.default_rng(config.seed)
    jobs = [
        (corpus_dir / "audio" / f"{t.track_id}.flac", t, start, config.calibration_seconds)
        for t in tracks
        for start in excerpt_starts(
            t.duration_seconds, config.calibration_seconds, config.calibration_excerpts, rng
        )
    ]
    out: list[CalibrationItem] = []
    with ProcessPoolExecutor(
        config.workers or os.cpu_count() or 1, initializer=single_thread
    ) as pool:
        for i, items in enumerate(pool.map(_calibration_item, jobs)):
            out.extend(items)
            if progress:
                progress("calibration excerpts", i + 1, len(jobs))
    return out


def calibration_scores(
    model: MixtureClassifier, items: list[CalibrationItem]
) -> list[dict[str, Any]]:
    """Each item's track score, computed as the service computes it from window scores
    (None when every window is too quiet to score)."""
    out = []
    for item in items:
        probs = predict(model, item.features)
        windows = [float(p) if keep else None for p, keep in zip(probs, item.audible, strict=True)]
        score = aggregate_track_score(windows, SCORING_HOP_SECONDS)
        out.append(
            {
                "track_id": item.track_id,
                "start": item.start,
                "condition": item.condition,
                "score": score,
                "has_vocals": item.has_vocals,
                "kind": item.kind,
            }
        )
    return out


def clopper_pearson(errors: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval of a rate ``errors / n``."""
    alpha = 1 - confidence
    low = 0.0 if errors == 0 else float(beta.ppf(alpha / 2, errors, n - errors + 1))
    high = 1.0 if errors == n else float(beta.ppf(1 - alpha / 2, errors + 1, n - errors))
    return low, high


def calibrate(
    items: list[dict[str, Any]], valid: ExampleSet, valid_scores: np.ndarray, target_fpr: float
) -> dict[str, Any]:
    """The synthetic threshold (FPR <= target per track) and the authentic one below it.

    An item left unscored (every window too quiet) can be no false positive: it counts in
    ``n`` as a score of 0 and is reported in ``unscored``.
    """
    unscored = sum(item["score"] is None for item in items)
    scores = _item_scores(items)
    threshold = choose_threshold(scores, target_fpr)
    false_positives = int((scores >= threshold).sum())
    low, high = clopper_pearson(false_positives, scores.size)
    per_condition = {}
    for condition in sorted({item["condition"] for item in items}):
        mask = np.array([item["condition"] == condition for item in items])
        per_condition[condition] = {
            "n": int(mask.sum()),
            "fpr": float((scores[mask] >= threshold).mean()),
        }
    per_kind = {}
    for kind in sorted({item.get("kind", "music") for item in items}):
        mask = np.array([item.get("kind", "music") == kind for item in items])
        errors = int((scores[mask] >= threshold).sum())
        per_kind[kind] = {
            "n": int(mask.sum()),
            "false_positives": errors,
            "fpr_ci95": list(clopper_pearson(errors, int(mask.sum()))),
        }
    families = valid.column("family")
    fakes = families != REAL
    strong = fakes & (valid.column("fraction") >= 1.0)
    reference = valid_scores[strong if strong.any() else fakes]
    authentic = min(threshold, float(np.quantile(reference, AUTHENTIC_MISS_RATE)))
    detection = {}
    for family in sorted(set(families[strong])):
        chosen = valid_scores[strong & (families == family)]
        detection[family] = {
            "n": int(chosen.size),
            "synthetic": float((chosen >= threshold).mean()),
            "not_authentic": float((chosen > authentic).mean()),
        }
    return {
        "threshold": threshold,
        "authentic_threshold": authentic,
        "n": int(scores.size),
        "unscored": unscored,
        "false_positives": false_positives,
        "fpr": false_positives / scores.size,
        "fpr_ci95": [low, high],
        "per_condition": per_condition,
        "per_kind": per_kind,
        "authentic_share": float(
            np.mean([s is not None and s <= authentic for s in (i["score"] for i in items)])
        ),
        "validation_detection": detection,
    }


def _item_scores(items: list[dict[str, Any]]) -> np.ndarray:
    """Calibration track scores, an unscored item (every window too quiet) as 0."""
    return np.array([0.0 if item["score"] is None else item["score"] for item in items])

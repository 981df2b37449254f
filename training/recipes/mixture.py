"""The mixture detector's whole recipe: rows, leave-one-family-out choice, fit, calibration.

1. Rows (``training.datasets``) from the corpus's train and validation splits, after
   fitting the generator zoo briefly on train excerpts only.
2. Every candidate (feature family x classifier) is scored leave-one-family-out: fit on the
   train rows of all generator families but one, test on validation reals against the
   validation fakes of the family left out (ROC AUC). A shippable candidate is also scored
   where the service operates: its threshold set on the calibration split at ``target_fpr``
   (as in step 3), the share of the held-out family's full-strength validation fakes at or
   above it. The candidate detecting the most of the families it never saw (mean over
   families; worst-family AUC, then mean AUC, breaking ties) ships: unseen generators are
   what real users bring, and a fake ranked above most reals but below the real-music tail
   is still not called synthetic.
3. The chosen candidate is fitted on all train rows, and its threshold is set on the
   calibration split scored exactly as the service scores a track (windows over the whole
   track, the same aggregate) under every codec condition, at a per-track false-positive
   rate of at most ``target_fpr``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta

from training.conditions import apply_condition, available_conditions
from training.corpus.real_music import TrackRecord, load_manifest
from training.datasets import (
    REAL,
    ExampleSet,
    Recipe,
    build_examples,
    excerpt_starts,
    read_excerpt,
    single_thread,
)
from training.evaluation.metrics import choose_threshold, roc_auc
from training.recipes.cnn import fit_cnn, predict_cnn
from training.zoo import DEFAULT_STEPS, FAMILIES, fit_generators, generators_in
from workers.compute.windows import aggregate_track_score
from workers.mixture.classifier import (
    MixtureClassifier,
    fit_classifier,
    predict,
    save_checkpoint,
    track_windows,
)
from workers.mixture.features import PHASE_COLUMNS, SAMPLE_RATE, SPECTRAL_COLUMNS

Progress = Callable[[str, int, int], None]
SCORING_HOP_SECONDS = 1.0
# Full-strength fakes of the validation split below the authentic threshold: at most this share.
AUTHENTIC_MISS_RATE = 0.05
# The code whose output the row and calibration caches hold (paths from the project root).
_CALIBRATION_SOURCES = (
    "training/conditions.py",
    "training/corpus/real_music.py",
    "training/datasets.py",
    "training/recipes/mixture.py",
    "workers/mixture/features.py",
    "workers/mixture/classifier.py",
)
_CACHED_SOURCES = {
    "rows": (*_CALIBRATION_SOURCES, "training/zoo"),
    "calibration": _CALIBRATION_SOURCES,
}


FEATURES, FINGERPRINT, SPECTROGRAM = "features", "fingerprint", "spectrogram"


@dataclass(frozen=True)
class Candidate:
    """One input and classifier shape compared by leave-one-family-out.

    ``input``: FEATURES (the detector's feature vector, ``columns`` of it), or one of the two
    published baselines: FINGERPRINT (the position-bound residual spectrum, linear model) and
    SPECTROGRAM (a small CNN on log-spectrogram patches, ``training.recipes.cnn``). Only
    FEATURES candidates can ship: the service scores windows from feature vectors.
    """

    name: str
    columns: slice | None
    hidden: int = 0
    input: str = FEATURES

    @property
    def shippable(self) -> bool:
        return self.input == FEATURES


CANDIDATES = (
    Candidate("fingerprint-linear", None, input=FINGERPRINT),
    Candidate("cnn-logspec", None, input=SPECTROGRAM),
    Candidate("spectral-linear", SPECTRAL_COLUMNS),
    Candidate("phase-linear", PHASE_COLUMNS),
    Candidate("all-linear", slice(0, PHASE_COLUMNS.stop)),
    Candidate("all-mlp32", slice(0, PHASE_COLUMNS.stop), hidden=32),
)


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    excerpts_per_track: int = 3
    generator_steps: int = DEFAULT_STEPS
    generator_fit_excerpts: int = 16
    classifier_steps: int = 600
    cnn_epochs: int = 12
    target_fpr: float = 0.005
    max_tracks: int | None = None  # per split, for tiny test budgets
    calibration_seconds: float = 30.0
    calibration_excerpts: int = 1
    workers: int | None = None
    cache_dir: Path | None = None
    families: tuple[str, ...] = field(default_factory=lambda: FAMILIES)


def _columns(candidate: Candidate, n_features: int) -> list[int]:
    assert candidate.columns is not None
    return list(range(n_features))[candidate.columns]


def fit_candidate(
    candidate: Candidate, rows: ExampleSet, config: TrainConfig
) -> Callable[[ExampleSet], np.ndarray]:
    """Fit ``candidate`` on ``rows``; returns its scorer of other rows."""
    if candidate.input == SPECTROGRAM:
        cnn = fit_cnn(rows.patches, rows.labels, seed=config.seed, epochs=config.cnn_epochs)
        return lambda other: predict_cnn(cnn, other.patches)
    if candidate.input == FINGERPRINT:
        model = fit_classifier(
            rows.fingerprints,
            rows.labels,
            steps=config.classifier_steps,
            seed=config.seed,
            weight_decay=1e-2,
        )
        return lambda other: predict(model, other.fingerprints)
    model = fit_features(candidate, rows, config)
    return lambda other: predict(model, other.features)


def fit_features(candidate: Candidate, rows: ExampleSet, config: TrainConfig) -> MixtureClassifier:
    """Fit a FEATURES candidate on ``rows``."""
    return fit_classifier(
        rows.features,
        rows.labels,
        hidden=candidate.hidden,
        steps=config.classifier_steps,
        seed=config.seed,
        columns=_columns(candidate, rows.features.shape[1]),
    )


@dataclass(frozen=True)
class FamilyOut:
    """Leave-one-family-out figures of one candidate, per held-out family: ROC AUC, and for a
    shippable candidate the detection rate at its calibrated threshold (else empty; None for a
    family without full-strength validation fakes)."""

    auc: dict[str, float]
    detection: dict[str, float | None]


def leave_one_family_out(
    train: ExampleSet,
    valid: ExampleSet,
    candidate: Candidate,
    config: TrainConfig,
    calibration: list[CalibrationItem],
) -> FamilyOut:
    """Fit without each family in turn; test validation reals against it (AUC) and, for a
    shippable candidate, count its full-strength fakes at the threshold that the calibration
    items give the fit (detection)."""
    train_family, valid_family = train.column("family"), valid.column("family")
    full = valid.column("fraction") >= 1.0
    aucs: dict[str, float] = {}
    detection: dict[str, float | None] = {}
    for family in config.families:
        rows = train.subset(train_family != family)
        test = valid.subset((valid_family == REAL) | (valid_family == family))
        if not candidate.shippable:
            aucs[family] = roc_auc(test.labels, fit_candidate(candidate, rows, config)(test))
            continue
        model = fit_features(candidate, rows, config)
        aucs[family] = roc_auc(test.labels, predict(model, test.features))
        threshold = choose_threshold(
            _item_scores(calibration_scores(model, calibration)), config.target_fpr
        )
        fakes = predict(model, valid.features[full & (valid_family == family)])
        detection[family] = float((fakes >= threshold).mean()) if fakes.size else None
    return FamilyOut(aucs, detection)


def _item_scores(items: list[dict[str, Any]]) -> np.ndarray:
    """Calibration track scores, an unscored item (every window too quiet) as 0."""
    return np.array([0.0 if item["score"] is None else item["score"] for item in items])


def per_generator_auc(valid: ExampleSet, scores: np.ndarray) -> dict[str, float]:
    """AUC of validation reals against each generator's validation fakes."""
    names = valid.column("generator")
    real = valid.column("family") == REAL
    out = {}
    for name in sorted(set(names) - {""}):
        mask = real | (names == name)
        out[name] = roc_auc(valid.labels[mask], scores[mask])
    return out


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


def split_tracks(corpus_dir: Path, split: str, config: TrainConfig) -> list[TrackRecord]:
    tracks = [t for t in load_manifest(corpus_dir) if t.split == split]
    return tracks[: config.max_tracks] if config.max_tracks else tracks


def fit_zoo(corpus_dir: Path, config: TrainConfig, progress: Progress | None) -> None:
    """Fit the zoo's neural generators briefly on excerpts of train tracks only (cached)."""
    train_tracks = split_tracks(corpus_dir, "train", config)
    rng = np.random.default_rng(config.seed)
    picks = rng.choice(
        len(train_tracks), size=min(config.generator_fit_excerpts, len(train_tracks)), replace=False
    )
    excerpts = [
        read_excerpt(
            corpus_dir / "audio" / f"{train_tracks[i].track_id}.flac",
            float(rng.uniform(0, max(0.0, train_tracks[i].duration_seconds - 8))),
            8.0,
        )
        for i in sorted(picks)
    ]
    names = [name for family in config.families for name in generators_in(family)]
    for k, name in enumerate(names):
        fit_generators([name], excerpts, config.generator_steps, config.seed, config.cache_dir)
        if progress:
            progress("fit generators", k + 1, len(names))


def build_rows(
    corpus_dir: Path, config: TrainConfig, progress: Progress | None
) -> tuple[ExampleSet, ExampleSet]:
    """Fit the zoo on train excerpts, then the train and validation rows."""
    recipe = Recipe(
        families=config.families,
        conditions=available_conditions(),
        excerpts_per_track=config.excerpts_per_track,
        seed=config.seed,
    )
    fit_zoo(corpus_dir, config, progress)
    rows = []
    for split in ("train", "validation"):

        def step(done: int, total: int, split: str = split) -> None:
            if progress:
                progress(f"{split} excerpts", done, total)

        rows.append(
            build_examples(
                corpus_dir, split_tracks(corpus_dir, split, config), recipe, step, config.workers
            )
        )
    return rows[0], rows[1]


def train_mixture(
    corpus_dir: Path, out: Path, config: TrainConfig, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the recipe; writes the checkpoint to ``out`` and returns the training report."""
    train, valid = cached(
        config,
        cache_key(corpus_dir, config, "rows"),
        lambda: build_rows(corpus_dir, config, progress),
    )
    calibration = cached(
        config,
        cache_key(corpus_dir, config, "calibration"),
        lambda: calibration_items(
            corpus_dir, split_tracks(corpus_dir, "calibration", config), config, progress
        ),
    )
    lofo = {}
    for k, candidate in enumerate(CANDIDATES):
        lofo[candidate.name] = leave_one_family_out(train, valid, candidate, config, calibration)
        if progress:
            progress("leave-one-family-out", k + 1, len(CANDIDATES))
    shippable = [c for c in CANDIDATES if c.shippable]
    chosen = max(shippable, key=lambda c: _choice_key(lofo[c.name]))
    model = fit_features(chosen, train, config)
    valid_scores = predict(model, valid.features)
    items = calibration_scores(model, calibration)
    report = {
        "candidate": chosen.name,
        "leave_one_family_out": {name: out.auc for name, out in lofo.items()},
        "leave_one_family_out_detection": {
            name: out.detection for name, out in lofo.items() if out.detection
        },
        "validation_auc": roc_auc(valid.labels, valid_scores),
        "per_generator_auc": per_generator_auc(valid, valid_scores),
        "calibration": calibrate(items, valid, valid_scores, config.target_fpr),
        "rows": {"train": len(train.examples), "validation": len(valid.examples)},
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in config.__dict__.items()
            if k != "cache_dir"
        },
    }
    plain: dict[str, Any] = _plain(report)
    save_checkpoint(model, out, plain)
    return plain


def _choice_key(out: FamilyOut) -> tuple[float, float, float]:
    """Mean detection of held-out families at the threshold, then worst and mean AUC."""
    detection = [v for v in out.detection.values() if v is not None]
    return (
        round(float(np.mean(detection)) if detection else 0.0, 3),
        round(min(out.auc.values()), 3),
        float(np.mean(list(out.auc.values()))),
    )


def cache_key(corpus_dir: Path, config: TrainConfig, what: str) -> str:
    """Digest of what ``what`` ("rows" or "calibration") depends on: the corpus manifest, the
    recipe settings that shape it, the codec conditions here and the source code making it."""
    shaping = {
        "rows": ("seed", "excerpts_per_track", "generator_steps", "generator_fit_excerpts"),
        "calibration": ("seed", "calibration_seconds", "calibration_excerpts"),
    }[what]
    settings = {name: getattr(config, name) for name in (*shaping, "max_tracks", "families")}
    sha = hashlib.sha256(json.dumps([what, settings, available_conditions()]).encode())
    sha.update((corpus_dir / "manifest.json").read_bytes())
    here = Path(__file__).resolve().parents[2]
    for name in _CACHED_SOURCES[what]:
        for source in (
            sorted((here / name).rglob("*.py")) if (here / name).is_dir() else [here / name]
        ):
            sha.update(source.read_bytes())
    return f"{what}-{sha.hexdigest()[:24]}"


def cached(config: TrainConfig, key: str, build: Callable[[], Any]) -> Any:
    """``build()``, kept in ``config.cache_dir`` under ``key`` when a cache folder is set."""
    if config.cache_dir is None:
        return build()
    path = config.cache_dir / f"{key}.pickle"
    if path.exists():
        with path.open("rb") as handle:
            return pickle.load(handle)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return value


def _plain(value: Any) -> Any:
    """JSON-able copy (tuples to lists, numpy floats to float) for the checkpoint's info."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    return value

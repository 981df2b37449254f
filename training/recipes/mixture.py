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

import math
from pathlib import Path
from typing import Any

import numpy as np

from training.conditions import available_conditions
from training.corpus.records import TrackRecord, load_manifest
from training.datasets import (
    ExampleSet,
    Recipe,
    build_examples,
    read_excerpt,
)
from training.evaluation.metrics import roc_auc
from training.recipes.cache import cache_key, cached
from training.recipes.calibration import calibrate, calibration_items, calibration_scores
from training.recipes.candidates import CANDIDATES, fit_features
from training.recipes.config import Progress, TrainConfig
from training.recipes.selection import _choice_key, leave_one_family_out, per_generator_auc
from training.zoo import fit_generators, generators_in
from workers.mixture.classifier import (
    predict,
    save_checkpoint,
)


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


def _plain(value: Any) -> Any:
    """JSON-able copy (tuples to lists, numpy floats to float) for the checkpoint's info."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    return value

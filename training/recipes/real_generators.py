"""Recipe of the full-mix detector learned from real generators' output (soundscape-mix v3).

1. Items: the real-music corpus (``soundscape data real-music``), the AI-music corpus
   (``soundscape data ai-music``: generated songs, and the real references published beside
   them) and, when given, the real singing of the singing corpus, a cappella and over a real
   instrumental of the same split (so that a voice is never evidence of synthesis).
2. Every excerpt, real or fake, goes through ``training.augment`` (random length, sample rate
   in 16-48 kHz, codec condition, gain) before features: no giveaways.
3. Features: ``workers.mixture.texture`` (16 kHz, level-free) per 10 s window, 5 s hop.
4. Choice by leave-one-source-out: each AI source held out in turn, each candidate fitted on
   the others, its threshold set on the calibration reals at ``target_fpr``, and measured as
   the share of the held-out source's items at or above it (then mean AUC breaks ties).
5. The chosen candidate is fitted on the train split; its threshold is calibrated on the
   calibration reals (per excerpt, Clopper-Pearson interval); validation detection per source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.evaluation.metrics import choose_threshold, roc_auc
from training.excerpt_rows import (
    CALIBRATION,
    HOP_SECONDS,
    TRAIN,
    VALIDATION,
    ExcerptConfig,
    Progress,
    Rows,
    build_rows,
    corpus_items,
    under_every_condition,
)
from training.recipes.calibration import clopper_pearson
from training.recipes.config import require_known_candidates
from workers.compute.windows import aggregate_track_score
from workers.mixture import texture
from workers.mixture.classifier import (
    MixtureClassifier,
    fit_classifier,
    predict,
    save_checkpoint,
)

OTHER = "other"
AUTHENTIC_MISS_RATE = 0.05


@dataclass(frozen=True)
class RecipeConfig:
    excerpts: ExcerptConfig = field(default_factory=ExcerptConfig)
    target_fpr: float = 0.0
    """Share of the calibration split's real excerpts allowed at or above the threshold (0:
    none); the false-positive rate per track is then measured on the validation split."""
    music_only: bool = True
    """Calibrate on held-out real music (songs, instrumentals, singing) only, not on the
    corpus's sound effects and other non-music real audio."""
    steps: int = 600
    workers: int | None = None
    cache_dir: Path | None = None
    candidates: tuple[str, ...] = (
        "texture-linear", "texture-mlp", "texture-mlp-wide", "peaks-linear",
        "fingerprint-linear", "all-linear", "all-mlp",
    )  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """Feature columns and classifier width compared by leave-one-source-out."""

    name: str
    columns: tuple[int, ...]
    hidden: int
    baseline: str = ""


def _cols(part: slice) -> tuple[int, ...]:
    return tuple(range(part.start, part.stop))


_SUMMARY = slice(0, texture.TEXTURE_COLUMNS.stop)  # peaks, phase and texture: no positions
CANDIDATES = {
    c.name: c
    for c in (
        Candidate("texture-linear", _cols(_SUMMARY), 0),
        Candidate("texture-mlp", _cols(_SUMMARY), 32),
        Candidate("texture-mlp-wide", _cols(_SUMMARY), 128),
        Candidate(
            "peaks-linear",
            _cols(texture.PEAK_COLUMNS),
            0,
            "decoder-fingerprint peak statistics (Afchar et al., ICASSP 2025), linear",
        ),
        Candidate(
            "fingerprint-linear",
            _cols(texture.FINGERPRINT_COLUMNS),
            0,
            "decoder fingerprint, the residual spectrum itself (Afchar et al.), linear",
        ),
        Candidate("all-linear", _cols(slice(0, texture.FEATURE_SIZE)), 0),
        Candidate("all-mlp", _cols(slice(0, texture.FEATURE_SIZE)), 32),
    )
}


def track_score(probabilities: np.ndarray, audible: np.ndarray) -> float:
    """The service's track aggregate (``aggregate_track_score`` at the rows' hop) of the
    audible windows; 0.0 for an excerpt with none (a silent excerpt is never a detection)."""
    kept = [float(p) if a else None for p, a in zip(probabilities, audible, strict=True)]
    score = aggregate_track_score(kept, HOP_SECONDS)
    return 0.0 if score is None else score


def fit(candidate: Candidate, rows: Sequence[Rows], config: RecipeConfig) -> MixtureClassifier:
    """The candidate fitted on every window of ``rows``, sources of fakes weighted equally."""
    features = np.concatenate([r.features for r in rows])
    labels = np.concatenate([np.full(len(r.features), r.item.label) for r in rows])
    per_source: dict[str, int] = {}
    for r in rows:
        per_source[r.item.source] = per_source.get(r.item.source, 0) + len(r.features)
    fakes = [s for s in per_source if any(r.item.label and r.item.source == s for r in rows)]
    weight = np.concatenate(
        [
            np.full(len(r.features), 1.0 / (per_source[r.item.source] * len(fakes)))
            if r.item.label
            else np.ones(len(r.features))
            for r in rows
        ]
    )
    return fit_classifier(
        features, labels, hidden=candidate.hidden, steps=config.steps, seed=config.excerpts.seed,
        sample_weight=weight, columns=list(candidate.columns),
    )  # fmt: skip


def scores(model: MixtureClassifier, rows: Sequence[Rows]) -> np.ndarray:
    return np.array([track_score(predict(model, r.features), r.audible) for r in rows])


@dataclass
class SourceOut:
    source: str
    detection: float
    auc: float
    threshold: float
    n: int


@dataclass
class CandidateResult:
    name: str
    held_out: list[SourceOut] = field(default_factory=list)

    @property
    def mean_detection(self) -> float:
        return float(np.mean([h.detection for h in self.held_out]))

    @property
    def worst_detection(self) -> float:
        return float(min(h.detection for h in self.held_out))

    @property
    def mean_auc(self) -> float:
        return float(np.mean([h.auc for h in self.held_out]))


def leave_one_source_out(
    candidate: Candidate, rows: Sequence[Rows], config: RecipeConfig
) -> CandidateResult:
    """Each AI source held out: fitted on the rest's train split (without the source's own
    real references), thresholded on the calibration split's real music, detection over all
    of the held-out source's excerpts."""
    result = CandidateResult(candidate.name)
    calibration = held_out_reals(rows, CALIBRATION, config.music_only)
    for source in sorted({r.item.source for r in rows if r.item.label}):
        # The held-out page's own real references leave the fit too.
        unseen = (source, f"real:{source}")
        train = [r for r in rows if r.item.split == TRAIN and r.item.source not in unseen]
        model = fit(candidate, train, config)
        real = scores(model, calibration)
        threshold = choose_threshold(real, config.target_fpr)
        held = scores(model, [r for r in rows if r.item.source == source])
        labels = np.r_[np.zeros(real.size), np.ones(held.size)]
        result.held_out.append(
            SourceOut(source, float(np.mean(held >= threshold)),
                      roc_auc(labels, np.r_[real, held]), threshold, int(held.size))
        )  # fmt: skip
    return result


def held_out_reals(rows: Sequence[Rows], split: str, music_only: bool = True) -> list[Rows]:
    """The real excerpts of a held-out split (CALIBRATION sets the threshold; VALIDATION
    measures it). With ``music_only``, the corpus's other real audio (sound effects, speech,
    nature: kind OTHER) is left out."""
    return [
        r
        for r in rows
        if r.item.split == split
        and not r.item.label
        and not (music_only and r.item.generator == OTHER)
    ]


def false_positives(
    model: MixtureClassifier, rows: Sequence[Rows], threshold: float
) -> dict[str, Any]:
    """Excerpts and tracks at or above ``threshold`` (a track counts once, whichever of its
    excerpts or conditions crossed), with a Clopper-Pearson interval over tracks, by kind."""
    crossed: dict[str, bool] = {}
    kinds: dict[str, str] = {}
    hits = scores(model, rows) >= threshold
    for r, hit in zip(rows, hits, strict=True):
        crossed[r.item.item_id] = crossed.get(r.item.item_id, False) or bool(hit)
        kinds[r.item.item_id] = r.item.generator
    tracks = int(sum(crossed.values()))
    low, high = clopper_pearson(tracks, max(len(crossed), 1))
    by_kind: dict[str, list[bool]] = {}
    for item_id, hit in crossed.items():
        by_kind.setdefault(kinds[item_id], []).append(hit)
    return {
        "excerpts": len(rows),
        "excerpts_over": int(hits.sum()),
        "tracks": len(crossed),
        "tracks_over": tracks,
        "fpr": tracks / max(len(crossed), 1),
        "fpr_ci95": [low, high],
        "tracks_over_by_kind": {k: [int(sum(v)), len(v)] for k, v in sorted(by_kind.items())},
    }


def calibrate(
    model: MixtureClassifier, rows: Sequence[Rows], config: RecipeConfig
) -> dict[str, Any]:
    """The threshold at ``target_fpr`` of the calibration split's real music (each excerpt
    also under every codec condition); false positives measured where it was not set: the
    validation split's real music, and the other real audio of both splits."""
    calibration = held_out_reals(rows, CALIBRATION, config.music_only)
    threshold = choose_threshold(scores(model, calibration), config.target_fpr)
    other = [r for r in rows if r.item.split != TRAIN and not r.item.label]
    other = [r for r in other if r.item.generator == OTHER] if config.music_only else []
    return {
        "threshold": threshold,
        "n": len(calibration),
        "calibration_split": false_positives(model, calibration, threshold),
        "validation_music": false_positives(
            model, held_out_reals(rows, VALIDATION, config.music_only), threshold
        ),
        "other_real_audio": false_positives(model, other, threshold),
    }


def validate(model: MixtureClassifier, rows: Sequence[Rows], threshold: float) -> dict[str, Any]:
    """Validation split: share of fakes at or above the threshold, per source and overall,
    and the AUC of its fakes against its reals."""
    fakes = [r for r in rows if r.item.split == VALIDATION and r.item.label]
    reals = [r for r in rows if r.item.split == VALIDATION and not r.item.label]
    fake_scores, real_scores = scores(model, fakes), scores(model, reals)
    caught = fake_scores >= threshold
    # At most AUTHENTIC_MISS_RATE of the validation fakes fall at or below this score.
    authentic = float(np.quantile(fake_scores, AUTHENTIC_MISS_RATE, method="lower")) - 1e-9
    per_source: dict[str, list[bool]] = {}
    for r, hit in zip(fakes, caught, strict=True):
        per_source.setdefault(r.item.source, []).append(bool(hit))
    return {
        "detection": float(np.mean(caught)),
        "authentic_threshold": authentic,
        "real_at_or_below_authentic": float(np.mean(real_scores <= authentic)),
        "fakes": len(fakes),
        "auc": roc_auc(
            np.r_[np.zeros(len(reals)), np.ones(len(fakes))], np.r_[real_scores, fake_scores]
        ),
        "reals": len(reals),
        "detection_by_source": {k: float(np.mean(v)) for k, v in sorted(per_source.items())},
    }


def train_real_generators(
    real_dir: Path,
    ai_dir: Path,
    singing_dir: Path | None,
    out: Path,
    config: RecipeConfig,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The whole recipe: rows, leave-one-source-out choice, fit, calibration, checkpoint."""
    require_known_candidates(config.candidates, CANDIDATES)
    items = corpus_items(real_dir, ai_dir, singing_dir, config.excerpts)
    items += under_every_condition(items)
    rows = build_rows(
        items, config.excerpts, progress, workers=config.workers, cache_dir=config.cache_dir
    )
    results = [leave_one_source_out(CANDIDATES[n], rows, config) for n in config.candidates]
    best = max(results, key=lambda r: (r.mean_detection, r.worst_detection, r.mean_auc))
    model = fit(CANDIDATES[best.name], [r for r in rows if r.item.split == TRAIN], config)
    calibration = calibrate(model, rows, config)
    report = {
        "recipe": "real-generators",
        "features": texture.FEATURES_NAME,
        "chosen": best.name,
        "leave_one_source_out": {
            r.name: {
                "mean_detection": r.mean_detection,
                "worst_detection": r.worst_detection,
                "mean_auc": r.mean_auc,
                "baseline": CANDIDATES[r.name].baseline,
                "held_out": [asdict(h) for h in r.held_out],
            }
            for r in results
        },
        "calibration": calibration,
        "validation": validate(model, rows, calibration["threshold"]),
        "excerpts": _counts(rows),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
    }
    save_checkpoint(model, out, report, texture.FEATURES_NAME)
    return report


def _counts(rows: Sequence[Rows]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        key = f"{r.item.split}/{'fake' if r.item.label else 'real'}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

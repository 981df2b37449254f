"""Recipe of the singing detector (soundscape-sing): a head on a frozen anti-spoofing backbone,
chosen leave-one-system-out on the singing corpus (``soundscape data singing``).

1. Verses: every verse of the singing corpus, synthetic, converted or real, in two versions:
   a cappella, through ``training.augment`` (sample rate drawn in 16-48 kHz, a codec
   condition, gain: no giveaways); and mixed over a real instrumental of its split (the
   real-music corpus) at a vocal-to-accompaniment level drawn in -6..+6 dB, the mix through
   ``training.augment`` as the service would receive it, then separated by REPET-SIM as the
   service separates a track.
2. Real songs with vocals (``../shared/audio/songs``): each song's first SONG_SECONDS under
   SONG_CONDITIONS drawn conditions, separated, and cut into windows inside the phrases its
   karaoke note file says are sung (``training.corpus.notes``). They only calibrate.
3. One window of WINDOW samples at 16 kHz per verse version (verses last 5-15 s), embedded by
   each backbone: AASIST and AASIST-L (MIT, trained on speech; shippable) and the CtrSVDD baselines
   (trained on singing deepfakes; no published licence: anchors, never shipped).
4. Choice by leave-one-system-out: each synthesis or conversion system held out in turn, each
   candidate fitted on the other systems' train split and the real train split, one threshold
   (the service does not know whether a voice came alone) set on the calibration reals (the
   corpus's held-out real singing in both versions and the real songs) at ``target_fpr``,
   detection measured on every verse of the held-out system, a cappella and mixed apart.
   Systems of one demo page share authors and data; holding out a page is not done here.
5. The best shippable candidate is fitted on the train split; its threshold is set on the
   calibration reals, and the false positives reported are those same reals (in sample:
   there is no other real singing to measure them on). The checkpoint holds the head and names
   its backbone (whose weights are not copied).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.evaluation.metrics import choose_threshold, roc_auc
from training.recipes.calibration import clopper_pearson
from training.recipes.config import Progress, require_known_candidates
from training.recipes.singing_windows import (
    ACAPPELLA,
    MIXED,
    REAL_SONG,
    TRAIN,
    VALIDATION,
    Row,
    WindowsConfig,
    build_rows,
)
from workers.mixture.classifier import MixtureClassifier, fit_classifier, predict
from workers.networks.singing_detector import BACKBONES, save_singing_checkpoint


@dataclass(frozen=True)
class SingingConfig:
    windows: WindowsConfig = field(default_factory=WindowsConfig)
    target_fpr: float = 0.005
    steps: int = 400
    candidates: tuple[str, ...] = (
        "svdd-raw-zero-shot", "svdd-lfcc-zero-shot", "aasist-zero-shot", "aasist-l-zero-shot",
        "aasist-linear", "aasist-mlp", "aasist-l-linear", "aasist-l-mlp", "svdd-raw-linear",
        "svdd-lfcc-linear",
    )  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A backbone, and how its window is turned into P(synthetic): the backbone's own output
    as published (``zero_shot``), or a head fitted here on its embedding."""

    name: str
    backbone: str
    hidden: int = 0
    zero_shot: bool = False

    @property
    def shippable(self) -> bool:
        return not self.zero_shot and BACKBONES[self.backbone].licensed


CANDIDATES = {
    c.name: c
    for c in (
        Candidate("svdd-raw-zero-shot", "svdd-raw", zero_shot=True),
        Candidate("svdd-lfcc-zero-shot", "svdd-lfcc", zero_shot=True),
        Candidate("aasist-zero-shot", "aasist", zero_shot=True),
        Candidate("aasist-l-zero-shot", "aasist-l", zero_shot=True),
        Candidate("aasist-linear", "aasist"),
        Candidate("aasist-mlp", "aasist", hidden=32),
        Candidate("aasist-l-linear", "aasist-l"),
        Candidate("aasist-l-mlp", "aasist-l", hidden=32),
        Candidate("svdd-raw-linear", "svdd-raw"),
        Candidate("svdd-lfcc-linear", "svdd-lfcc"),
    )
}


def fit_head(candidate: Candidate, rows: Sequence[Row], config: SingingConfig) -> MixtureClassifier:
    """The candidate's head on the rows' embeddings, each system of fakes weighted equally."""
    x = np.stack([r.embeddings[candidate.backbone] for r in rows]).astype(np.float32)
    y = np.array([r.label for r in rows], dtype=np.float32)
    per_system: dict[str, int] = {}
    for r in rows:
        per_system[r.system] = per_system.get(r.system, 0) + 1
    weight = np.array([1.0 / per_system[r.system] if r.label else 1.0 for r in rows])
    return fit_classifier(
        x, y, hidden=candidate.hidden, steps=config.steps, seed=config.windows.seed,
        sample_weight=weight,
    )  # fmt: skip


def score_rows(
    candidate: Candidate, model: MixtureClassifier | None, rows: Sequence[Row]
) -> np.ndarray:
    if not rows:
        return np.zeros(0)
    if candidate.zero_shot:
        return np.array([r.scores[candidate.backbone] for r in rows])
    assert model is not None
    return predict(model, np.stack([r.embeddings[candidate.backbone] for r in rows]))


def calibration_reals(rows: Sequence[Row]) -> list[Row]:
    """Real windows held out of every fit: the corpus's validation reals and the real songs."""
    return [r for r in rows if not r.label and r.split != TRAIN]


@dataclass
class SystemOut:
    system: str
    detection: dict[str, float]
    auc: dict[str, float]
    threshold: float
    n: int


def leave_one_system_out(
    candidate: Candidate, rows: Sequence[Row], config: SingingConfig
) -> list[SystemOut]:
    reals = calibration_reals(rows)
    out = []
    for system in sorted({r.system for r in rows if r.label}):
        train = [r for r in rows if r.split == TRAIN and r.system != system]
        model = None if candidate.zero_shot else fit_head(candidate, train, config)
        real_scores = score_rows(candidate, model, reals)
        threshold = choose_threshold(real_scores, config.target_fpr)
        detection, auc = {}, {}
        for version in (ACAPPELLA, MIXED):
            held = score_rows(
                candidate, model, [r for r in rows if r.system == system and r.version == version]
            )
            detection[version] = float(np.mean(held >= threshold))
            versioned = np.array(
                [s for s, r in zip(real_scores, reals, strict=True) if r.version == version]
            )
            auc[version] = roc_auc(
                np.r_[np.zeros(versioned.size), np.ones(held.size)], np.r_[versioned, held]
            )
        n = sum(1 for r in rows if r.system == system)
        out.append(SystemOut(system, detection, auc, threshold, n))
    return out


def summarise(held_out: Sequence[SystemOut]) -> dict[str, Any]:
    return {
        "mean_detection": {
            v: float(np.mean([h.detection[v] for h in held_out])) for v in (ACAPPELLA, MIXED)
        },
        "worst_detection": {
            v: float(min(h.detection[v] for h in held_out)) for v in (ACAPPELLA, MIXED)
        },
        "mean_auc": {v: float(np.mean([h.auc[v] for h in held_out])) for v in (ACAPPELLA, MIXED)},
        "held_out": [asdict(h) for h in held_out],
    }


def false_positives(scores: np.ndarray, rows: Sequence[Row], threshold: float) -> dict[str, Any]:
    """Windows and items (a song or a verse counts once) at or above ``threshold``."""
    crossed: dict[str, bool] = {}
    for s, r in zip(scores, rows, strict=True):
        key = r.item_id.split("@")[0]
        crossed[key] = crossed.get(key, False) or bool(s >= threshold)
    over = int(sum(crossed.values()))
    low, high = clopper_pearson(over, max(len(crossed), 1))
    return {"windows": len(rows), "windows_over": int(np.sum(scores >= threshold)),
            "items": len(crossed), "items_over": over, "fpr": over / max(len(crossed), 1),
            "fpr_ci95": [low, high]}  # fmt: skip


def train_singing(
    singing_dir: Path,
    real_dir: Path,
    songs_dir: Path | None,
    out: Path,
    config: SingingConfig,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The whole recipe: rows, leave-one-system-out, fit, calibration, checkpoint."""
    require_known_candidates(config.candidates, CANDIDATES)
    chosen = [CANDIDATES[n] for n in config.candidates]
    if not any(c.shippable for c in chosen):
        raise ValueError(
            "no shippable candidate among --candidate: the zero-shot and CtrSVDD ones only compare"
        )
    backbones = sorted({c.backbone for c in chosen})
    rows = build_rows(singing_dir, real_dir, songs_dir, config.windows, backbones, progress)
    results = {c.name: leave_one_system_out(c, rows, config) for c in chosen}
    shippable = [c for c in chosen if c.shippable]

    def rank(c: Candidate) -> tuple[float, float, float]:
        s = summarise(results[c.name])
        mean, worst, auc = (
            float(np.mean(list(s[key].values())))
            for key in ("mean_detection", "worst_detection", "mean_auc")
        )
        return mean, worst, auc

    best = max(shippable, key=rank)
    model = fit_head(best, [r for r in rows if r.split == TRAIN], config)
    reals = calibration_reals(rows)
    real_scores = score_rows(best, model, reals)
    threshold = choose_threshold(real_scores, config.target_fpr)
    fakes = [r for r in rows if r.split == VALIDATION and r.label]
    fake_scores = score_rows(best, model, fakes)
    report = {
        "recipe": "singing",
        "chosen": best.name,
        "backbone": best.backbone,
        "leave_one_system_out": {name: summarise(res) for name, res in results.items()},
        "calibration": {
            "threshold": threshold,
            "target_fpr": config.target_fpr,
            "all": false_positives(real_scores, reals, threshold),
            "real_songs": false_positives(
                real_scores[[r.system == REAL_SONG for r in reals]],
                [r for r in reals if r.system == REAL_SONG],
                threshold,
            ),
        },  # fmt: skip
        "validation": {
            version: float(
                np.mean(
                    [
                        s >= threshold
                        for s, r in zip(fake_scores, fakes, strict=True)
                        if r.version == version
                    ]
                )
            )
            for version in (ACAPPELLA, MIXED)
        },
        "windows": _counts(rows),
        "config": json.loads(json.dumps(asdict(config), default=str)),
    }
    save_singing_checkpoint(model, best.backbone, out, report)
    return report


def _counts(rows: Sequence[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        key = f"{r.split}/{'fake' if r.label else 'real'}/{r.version}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

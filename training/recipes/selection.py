"""Choosing the candidate to ship: leave-one-family-out AUC and detection of the held-out
family at the calibrated threshold, and the key that ranks candidates by them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.datasets import (
    REAL,
    ExampleSet,
)
from training.evaluation.metrics import choose_threshold, roc_auc
from training.recipes.calibration import CalibrationItem, _item_scores, calibration_scores
from training.recipes.candidates import Candidate, fit_candidate, fit_features
from training.recipes.config import TrainConfig
from workers.mixture.classifier import (
    predict,
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


def per_generator_auc(valid: ExampleSet, scores: np.ndarray) -> dict[str, float]:
    """AUC of validation reals against each generator's validation fakes."""
    names = valid.column("generator")
    real = valid.column("family") == REAL
    out = {}
    for name in sorted(set(names) - {""}):
        mask = real | (names == name)
        out[name] = roc_auc(valid.labels[mask], scores[mask])
    return out


def _choice_key(out: FamilyOut) -> tuple[float, float, float]:
    """Mean detection of held-out families at the threshold, then worst and mean AUC."""
    detection = [v for v in out.detection.values() if v is not None]
    return (
        round(float(np.mean(detection)) if detection else 0.0, 3),
        round(min(out.auc.values()), 3),
        float(np.mean(list(out.auc.values()))),
    )

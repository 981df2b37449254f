"""The candidates the mixture recipe compares: an input (the detector's features, or a
published baseline) and a classifier shape, and how each is fitted on rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.datasets import (
    ExampleSet,
)
from training.recipes.cnn import fit_cnn, predict_cnn
from training.recipes.config import TrainConfig
from workers.mixture.classifier import (
    MixtureClassifier,
    fit_classifier,
    predict,
)
from workers.mixture.features import PHASE_COLUMNS, SPECTRAL_COLUMNS

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

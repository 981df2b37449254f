"""The full-mix synthetic-music detector (role "mixture-detector"): decoder-artefact
features per window and the classifier that ``soundscape train mixture`` fits."""

from __future__ import annotations

import numpy as np

from workers.mixture.classifier import FEATURE_SETS, WINDOW_SECONDS, load_checkpoint, track_windows
from workers.networks.registry import ModelSpec
from workers.networks.roles import ModelInfo
from workers.networks.weights import ResolvedWeights


class LoadedMixtureDetector:
    """A trained mixture classifier behind the MixtureDetector interface; its input rate is
    that of the feature set the checkpoint names."""

    window_seconds = WINDOW_SECONDS

    def __init__(self, name: str, weights: ResolvedWeights) -> None:
        self.name = name
        self.model, self.training = load_checkpoint(weights.path)
        self.feature_set = FEATURE_SETS[self.model.feature_set]
        self.sample_rate = self.feature_set.sample_rate
        self.info = ModelInfo(name, weights.sha256)

    def score_track(
        self, mono: np.ndarray, hop_seconds: float
    ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float | None, ...]]:
        """Window starts, ends (seconds) and P(synthetic) over a whole track.

        mono: float32 (n,) at ``sample_rate``; windows of ``window_seconds`` every
        ``hop_seconds`` (one window when the track is shorter); None for a window too quiet
        to score (``MIN_WINDOW_LEVEL_DB``).
        """
        windows = track_windows(
            np.asarray(mono, dtype=np.float32), hop_seconds, self.feature_set.name
        )
        return windows.starts_seconds, windows.ends_seconds, tuple(windows.scores(self.model))


def load_mixture_detector(
    spec: ModelSpec, weights: ResolvedWeights | None, device: str
) -> LoadedMixtureDetector:
    """The registry's loader: the checkpoint on the CPU (feature extraction is numpy; the
    classifier is a few hundred parameters, so ``device`` does not matter)."""
    assert weights is not None
    return LoadedMixtureDetector(spec.name, weights)

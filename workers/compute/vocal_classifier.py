"""The vocal-activity classifier: P(the lead vocal sounds) per 0.1 s frame of a full mix.

A standardised logistic regression (or one-hidden-layer MLP: the same small network as the
full-mix detector, ``workers.mixture.classifier.MixtureClassifier``) over
``workers.compute.vocal_features`` vectors, then a running median over ``smooth_frames``
frames and a threshold. The mix alone does not tell every voice from an instrument that
moves like one (fitted on the eight songs alone, it marked 44-68 % of the frames of three
instrumentals and of a whale's song as sung), so the stem has its say
(:meth:`VocalClassifier.refine`): a frame is active when the energy rule of
``workers.compute.vocal_activity`` says so (which keeps clean speech, where the stem is the
mix), or when the classifier says so and the separated stem still holds at least
``GATE_DB`` of the mix. ``soundscape train vocal-activity`` fits
it on real songs and their karaoke note files (training/recipes/vocal_activity.py); its
checkpoint is a plain state dict plus a config, loaded with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.ndimage import median_filter, uniform_filter1d

from workers.compute import vocal_features
from workers.compute.audio import resample
from workers.compute.vocal_activity import VocalActivity
from workers.mixture.classifier import MixtureClassifier, predict
from workers.networks.roles import ModelInfo

MODEL_NAME = "soundscape-vad"
# Vocal-to-mix level (dB, running mean over GATE_FRAMES) below which the classifier alone
# cannot switch a frame on. On repet-sim stems of the eight annotated songs, 90 % of sung
# frames lie above -15.4 dB in every song and half of the instrumental "Cant stop it"'s
# frames below -18.6 dB: leave-one-song-out (the prototype of the recipe) lost 0.001 of mean
# F1 at -17 dB and the instrumental's active share fell from 0.70 to 0.23.
GATE_DB = -17.0
GATE_FRAMES = 9
CHECKPOINT_KIND = "vocal-activity"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class VocalClassifier:
    """A fitted classifier, its operating point and the model it was loaded as."""

    model: MixtureClassifier
    threshold: float
    smooth_frames: int
    info: ModelInfo
    training: dict[str, Any]

    def probabilities(self, mixture: np.ndarray, sample_rate: int) -> np.ndarray:
        """(frames,) float64 smoothed P(vocals) of each 0.1 s frame of ``mixture``
        (channels, n) float32 at ``sample_rate``; frames = ceil(n / (0.1 s))."""
        features = mix_features(mixture, sample_rate)
        frames = -(-np.atleast_2d(mixture).shape[1] // int(round(0.1 * sample_rate)))
        if len(features) == 0:
            return np.zeros(frames)
        return match_length(
            smoothed_probabilities(self.model, features, self.smooth_frames), frames
        )

    def refine(self, energy: VocalActivity, mixture: np.ndarray, sample_rate: int) -> VocalActivity:
        """``energy`` (the stem's activity of this mix) with the frames :func:`combine`
        marks active."""
        probs = self.probabilities(mixture, sample_rate)
        return replace(energy, active=combine(probs, self.threshold, energy))


def combine(probabilities: np.ndarray, threshold: float, energy: VocalActivity) -> np.ndarray:
    """(frames,) bool: the energy rule's active frames, and those where the classifier's
    ``probabilities`` reach ``threshold`` while the stem's level is at least GATE_DB."""
    probs = match_length(np.asarray(probabilities), len(energy.level))
    level = uniform_filter1d(energy.level.astype(np.float64), GATE_FRAMES, mode="nearest")
    return np.asarray(energy.active | ((probs >= threshold) & (level >= GATE_DB)))


def mix_features(mixture: np.ndarray, sample_rate: int) -> np.ndarray:
    """The classifier's input: ``vocal_features.frame_features`` of ``mixture`` (channels, n)
    float32 at ``sample_rate``, resampled to the features' rate."""
    mix = resample(np.atleast_2d(mixture), sample_rate, vocal_features.SAMPLE_RATE)
    return vocal_features.frame_features(mix)


def smoothed_probabilities(
    model: MixtureClassifier, features: np.ndarray, width: int
) -> np.ndarray:
    """(frames,) float64 P(vocals) of feature rows, under a running median of ``width`` frames."""
    return np.asarray(median_filter(predict(model, features), width, mode="nearest"))


def match_length(values: np.ndarray, frames: int) -> np.ndarray:
    """``values`` cut or edge-padded to ``frames`` (resampling may round one frame off)."""
    if len(values) >= frames:
        return values[:frames]
    return np.pad(values, (0, frames - len(values)), mode="edge")


def save_vocal_classifier(
    model: MixtureClassifier, path: Path, threshold: float, smooth_frames: int, info: dict[str, Any]
) -> None:
    """Write the state dict, the architecture, the operating point and ``info`` (plain values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "kind": CHECKPOINT_KIND,
            "version": CHECKPOINT_VERSION,
            "n_features": model.n_features,
            "hidden": model.hidden,
            "threshold": float(threshold),
            "smooth_frames": int(smooth_frames),
            "info": info,
            "state_dict": model.state_dict(),
        },
        path,
    )


def load_vocal_classifier(path: Path, info: ModelInfo) -> VocalClassifier:
    """The classifier written by :func:`save_vocal_classifier`; ValueError for another file,
    or one made for other features than this code's."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is not a vocal-activity checkpoint")
    if data.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is not a version-{CHECKPOINT_VERSION} vocal-activity checkpoint")
    if data["n_features"] != vocal_features.FEATURE_SIZE:
        raise ValueError(f"{path} was trained on other features than this code's")
    model = MixtureClassifier(int(data["n_features"]), int(data["hidden"]))
    model.load_state_dict(data["state_dict"], strict=True)
    return VocalClassifier(
        model.eval(), float(data["threshold"]), int(data["smooth_frames"]), info, dict(data["info"])
    )


@lru_cache(maxsize=4)
def load_shipped_classifier(weights_dir: Path | None) -> VocalClassifier:
    """The manifest's ``soundscape-vad``, verified by sha256, loaded once per process.

    Raises WeightsMissingError when the file is nowhere to be found (the caller falls back
    to the energy rule of ``workers.compute.vocal_activity``).
    """
    from workers.networks.weights import resolve

    resolved = resolve(MODEL_NAME, weights_dir)
    return load_vocal_classifier(resolved.path, ModelInfo(MODEL_NAME, resolved.sha256))

"""The full-mix synthetic-music detector: decoder-artefact features per window, a small classifier.

The classifier is a standardised logistic regression or one-hidden-layer MLP over
``workers.mixture.features`` vectors; its checkpoint is a plain state dict plus a config
(loaded with ``weights_only=True``). A track is scored in WINDOW_SECONDS windows at any hop,
all from one pass of frame statistics, so the whole-track cost barely depends on the hop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workers.mixture import features as decoder_features
from workers.mixture import texture
from workers.mixture.features import FEATURE_SIZE, SAMPLE_RATE, TrackFrames

# One window of features spans this much audio: long enough for a stable fine spectrum.
WINDOW_SECONDS = 10.0
# A window quieter than this (mean power, dB full scale) carries no measurable decoder
# artefact: it is left unscored. Digital silence and the dither of a 16-bit file lie far
# below; the quietest passages of real recordings lie far above (-60 dBFS and up).
MIN_WINDOW_LEVEL_DB = -70.0
CHECKPOINT_VERSION = 1
DECODER_ARTEFACTS_44K = "decoder-artefacts-44k"


@dataclass(frozen=True)
class FeatureSet:
    """How a checkpoint's feature vectors are made: the input rate, the vector's size and the
    frame statistics of a whole track (anything with ``window`` and ``level_db``)."""

    name: str
    sample_rate: int
    size: int
    frames: Callable[[np.ndarray], Any]


FEATURE_SETS = {
    DECODER_ARTEFACTS_44K: FeatureSet(
        DECODER_ARTEFACTS_44K, SAMPLE_RATE, FEATURE_SIZE, decoder_features.track_frames
    ),
    texture.FEATURES_NAME: FeatureSet(
        texture.FEATURES_NAME, texture.SAMPLE_RATE, texture.FEATURE_SIZE, texture.texture_frames
    ),
}


class MixtureClassifier(nn.Module):
    """Feature vectors (B, n_features) float32 -> logits (B,) of P(synthetic).

    ``columns``: the feature columns it reads (all when None), so that a model on one
    feature family keeps the one feature vector of the detector.
    """

    def __init__(
        self, n_features: int = FEATURE_SIZE, hidden: int = 0, columns: list[int] | None = None
    ) -> None:
        super().__init__()
        self.n_features, self.hidden = n_features, hidden
        self.feature_set = DECODER_ARTEFACTS_44K
        self.columns = list(range(n_features)) if columns is None else list(columns)
        width = len(self.columns)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        if hidden:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1)
            )
        else:
            self.net = nn.Linear(width, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mean, scale = self.get_buffer("mean"), self.get_buffer("scale")
        x = (features[..., self.columns] - mean) / scale
        logits: torch.Tensor = self.net(torch.nan_to_num(x, nan=0.0, posinf=10.0, neginf=-10.0))
        return logits.squeeze(-1)

    def set_standardisation(self, features: np.ndarray) -> None:
        """Centre and scale inputs by the training features' mean and standard deviation."""
        data = torch.as_tensor(features, dtype=torch.float32)[:, self.columns]
        self.get_buffer("mean").copy_(data.mean(dim=0))
        self.get_buffer("scale").copy_(data.std(dim=0).clamp_min(1e-6))


def fit_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    hidden: int = 0,
    weight_decay: float = 1e-3,
    steps: int = 600,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
    columns: list[int] | None = None,
) -> MixtureClassifier:
    """Fit on (N, n_features) features and (N,) 0/1 labels, classes balanced, full batch."""
    torch.manual_seed(seed)
    model = MixtureClassifier(features.shape[1], hidden, columns)
    model.set_standardisation(features)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.float32)
    weight = (
        torch.ones_like(y)
        if sample_weight is None
        else torch.as_tensor(sample_weight, dtype=torch.float32)
    )
    positives = float((weight * y).sum())
    negatives = float((weight * (1 - y)).sum())
    weight = weight * torch.where(y > 0.5, 0.5 / max(positives, 1e-9), 0.5 / max(negatives, 1e-9))
    optimiser = torch.optim.Adam(model.net.parameters(), lr=1e-2, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = (loss_fn(model(x), y) * weight).sum()
        loss.backward()
        optimiser.step()
    return model.eval()


def predict(model: MixtureClassifier, features: np.ndarray) -> np.ndarray:
    """P(synthetic) (N,) float64 of feature rows (N, n_features)."""
    with torch.inference_mode():
        logits = model(torch.as_tensor(np.asarray(features), dtype=torch.float32))
    return torch.sigmoid(logits.double()).numpy()


@dataclass(frozen=True)
class TrackWindows:
    """Window spans (seconds) over a track, the feature vector of each and whether it is loud
    enough to score (MIN_WINDOW_LEVEL_DB)."""

    starts_seconds: tuple[float, ...]
    ends_seconds: tuple[float, ...]
    features: np.ndarray  # (windows, n_features) float32
    audible: np.ndarray  # (windows,) bool

    def scores(self, model: MixtureClassifier) -> list[float | None]:
        """P(synthetic) of each window; None for a window too quiet to score."""
        probs = predict(model, self.features)
        return [float(p) if keep else None for p, keep in zip(probs, self.audible, strict=True)]


def window_features(
    frames: TrackFrames | texture.TextureFrames, hop_seconds: float, sample_rate: int = SAMPLE_RATE
) -> TrackWindows:
    """Features of every WINDOW_SECONDS window at ``hop_seconds`` (the last one ends the track;
    a track shorter than a window is one window); ``frames`` made at ``sample_rate``."""
    duration = frames.n_samples / sample_rate
    if duration <= WINDOW_SECONDS:
        starts = [0.0]
    else:
        starts = list(np.arange(0.0, duration - WINDOW_SECONDS + 1e-9, hop_seconds))
        if starts[-1] + WINDOW_SECONDS < duration - 1e-6:
            starts.append(duration - WINDOW_SECONDS)
    ends = [min(s + WINDOW_SECONDS, duration) for s in starts]
    spans = list(zip(starts, ends, strict=True))
    rows = np.stack([frames.window(s, e) for s, e in spans])
    audible = np.array([frames.level_db(s, e) >= MIN_WINDOW_LEVEL_DB for s, e in spans])
    return TrackWindows(
        tuple(float(s) for s in starts), tuple(float(e) for e in ends), rows, audible
    )


def track_windows(
    mono: np.ndarray, hop_seconds: float, feature_set: str = DECODER_ARTEFACTS_44K
) -> TrackWindows:
    """Window features of mono float32 (n,) audio at the feature set's sample rate."""
    chosen = FEATURE_SETS[feature_set]
    return window_features(chosen.frames(mono), hop_seconds, chosen.sample_rate)


def save_checkpoint(
    model: MixtureClassifier,
    path: Path,
    info: dict[str, Any],
    feature_set: str = DECODER_ARTEFACTS_44K,
) -> None:
    """Write the state dict, the architecture, the feature set and ``info`` (plain values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "version": CHECKPOINT_VERSION,
            "n_features": model.n_features,
            "hidden": model.hidden,
            "columns": model.columns,
            "window_seconds": WINDOW_SECONDS,
            "features": feature_set,
            "state_dict": model.state_dict(),
            "info": info,
        },
        path,
    )


def load_checkpoint(path: Path) -> tuple[MixtureClassifier, dict[str, Any]]:
    """The classifier in eval mode (its ``feature_set`` named by the checkpoint) and its
    ``info``; ValueError for a foreign file. A checkpoint naming no feature set predates
    them and used the 44.1 kHz decoder-artefact features."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is not a version-{CHECKPOINT_VERSION} mixture checkpoint")
    chosen = FEATURE_SETS.get(str(data.get("features", DECODER_ARTEFACTS_44K)))
    if (
        chosen is None
        or data["n_features"] != chosen.size
        or data["window_seconds"] != WINDOW_SECONDS
    ):
        raise ValueError(f"{path} was trained on other features or windows than this code's")
    model = MixtureClassifier(
        int(data["n_features"]), int(data["hidden"]), [int(c) for c in data["columns"]]
    )
    model.load_state_dict(data["state_dict"], strict=True)
    model.feature_set = chosen.name
    return model.eval(), dict(data["info"])

"""The published baseline the mixture detector is compared with: a small CNN on log spectrograms.

Afchar et al. (ICASSP 2025) detect AI music with a convolutional network on log-amplitude
spectrogram windows. This is that baseline at the size our rows allow: four stride-2 conv
blocks over a (PATCH_BINS, PATCH_FRAMES) patch, averaged over time but not over frequency (so
it can learn where a decoder puts its peaks), then a linear layer. It is trained and scored in
leave-one-family-out validation beside the feature models (``training.recipes.mixture``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workers.mixture.features import PATCH_BINS

CHANNELS = (8, 16, 32, 32)


class SpectrogramCNN(nn.Module):
    """Patches (B, PATCH_BINS, frames) of log power in dB -> logits (B,) of P(synthetic)."""

    def __init__(self, bins: int = PATCH_BINS, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 1
        for out in channels:
            conv = nn.Conv2d(width, out, 3, stride=2, padding=1)
            layers += [conv, nn.BatchNorm2d(out), nn.ReLU()]
            width = out
        self.body = nn.Sequential(*layers)
        rows = bins
        for _ in channels:
            rows = (rows + 1) // 2
        self.head = nn.Linear(width * rows, 1)
        self.register_buffer("mean", torch.zeros(bins))
        self.register_buffer("scale", torch.ones(bins))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        mean, scale = self.get_buffer("mean"), self.get_buffer("scale")
        x = (patches - mean[:, None]) / scale[:, None]
        hidden = self.body(x.unsqueeze(1)).mean(dim=3)  # (B, channels, rows): time averaged
        logits: torch.Tensor = self.head(hidden.flatten(1))
        return logits.squeeze(-1)


def fit_cnn(
    patches: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    epochs: int = 12,
    batch_size: int = 32,
) -> SpectrogramCNN:
    """Fit on patches (N, bins, frames) and 0/1 labels (N,), classes balanced per batch loss."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(np.asarray(patches, dtype=np.float32))
    y = torch.as_tensor(labels, dtype=torch.float32)
    model = SpectrogramCNN(x.shape[1])
    model.get_buffer("mean").copy_(x.mean(dim=(0, 2)))
    model.get_buffer("scale").copy_(x.std(dim=(0, 2)).clamp_min(1e-3))
    positives = float(y.sum())
    weight = torch.where(
        y > 0.5, 0.5 / max(positives, 1.0), 0.5 / max(float(len(y)) - positives, 1.0)
    ) * len(y)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    model.train()
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(len(y)))
        for start in range(0, len(y), batch_size):
            batch = order[start : start + batch_size]
            if batch.numel() < 2:  # batch norm needs two rows
                continue
            optimiser.zero_grad()
            loss = (loss_fn(model(x[batch]), y[batch]) * weight[batch]).mean()
            loss.backward()
            optimiser.step()
    return model.eval()


def predict_cnn(model: SpectrogramCNN, patches: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """P(synthetic) (N,) float64 of patches (N, bins, frames)."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(patches), batch_size):
            chunk = torch.as_tensor(np.asarray(patches[start : start + batch_size], np.float32))
            out.append(torch.sigmoid(model(chunk).double()).numpy())
    return np.concatenate(out) if out else np.zeros(0)

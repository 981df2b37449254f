"""CtrSVDD 2024 baselines B01 (LFCC) and B02 (raw waveform), March 2024 release.

A front end yields a (B, 64, 23, 29) map; the AASIST back end (|.|-max over time and over
frequency, no attention block) turns it into one score per window. Inputs are 16 kHz,
64,000-sample windows, peak-normalised (the caller does that: see the registry).
"""

from __future__ import annotations

import torch
from torch import nn

from workers.networks.aasist import SpectroTemporalGraphBackend
from workers.networks.frontends import LFCC, SincBandpass, build_encoder, sinc_feature_map

RAW_ENCODER = [(1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64)]
LFCC_ENCODER = [(1, 32), (32, 32), (32, 64), (64, 64)]
MAP_SHAPE = (23, 29)  # what the raw front end yields for 64,000 samples; LFCC is mapped to it


class SincFrontend(nn.Module):
    """B02 front end: (B, 64000) float32 -> (B, 64, 23, 29)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_time = SincBandpass(70, 128)
        self.first_bn = nn.BatchNorm2d(1)
        self.encoder = build_encoder(RAW_ENCODER)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.encoder(sinc_feature_map(waveform, self.conv_time, self.first_bn))


class LfccFrontend(nn.Module):
    """B01 front end: (B, 64000) float32 -> LFCC (B, 1, 60, 397) -> (B, 64, 23, 29).

    Four residual blocks shrink time to 4 frames; a linear layer maps the flattened
    60 x 4 plane of each channel to the 23 x 29 plane the back end expects.
    """

    def __init__(self, n_lfcc: int = 60) -> None:
        super().__init__()
        self.lfcc = LFCC(sample_rate=16000, n_filter=20, n_lfcc=n_lfcc, n_fft=512, hop_length=160)
        self.encoder = build_encoder(LFCC_ENCODER)
        self.linear = nn.Linear(n_lfcc * 4, MAP_SHAPE[0] * MAP_SHAPE[1])

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.lfcc(waveform).unsqueeze(1))
        x = self.linear(x.flatten(2))
        return x.view(x.size(0), x.size(1), *MAP_SHAPE)


class SVDDModel(nn.Module):
    """Front end + AASIST back end: (B, 64000) -> (hidden (B, 160), score (B, 1))."""

    def __init__(self, frontend: nn.Module) -> None:
        super().__init__()
        self.frontend = frontend
        self.backend = SpectroTemporalGraphBackend(
            channels=64,
            gat_dims=(64, 32),
            pool_ratios=(0.5, 0.7, 0.5, 0.5),
            temperatures=(2.0, 2.0, 100.0, 100.0),
            n_outputs=1,
        )

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.backend.classify(self.frontend(waveform))


def build_svdd_raw() -> SVDDModel:
    return SVDDModel(SincFrontend())


def build_svdd_lfcc() -> SVDDModel:
    return SVDDModel(LfccFrontend())

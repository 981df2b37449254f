"""The istft-head family: decoders that predict a spectrogram and end in ``torch.istft``.

Vocos: a ConvNeXt backbone at the frame rate predicts log-magnitude and phase for an iSTFT
of hop ``spec.hop``. iSTFTNet: two transposed-conv stages, then a tiny iSTFT (n_fft 16).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from training.zoo.layers import UpsamplerStack, fit_length
from training.zoo.spec import GeneratorSpec
from training.zoo.stack import build_frontend

# Vocos clips the predicted magnitude (linear) at this value.
MAX_MAGNITUDE = 100.0
ENCODER_STRIDES = {320: (8, 5, 4, 2), 256: (8, 8, 2, 2), 512: (8, 8, 4, 2)}


class ConvNeXtBlock(nn.Module):
    """Depthwise conv k7, LayerNorm, pointwise 3x expansion with GELU, residual (Vocos)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 3 * dim), nn.GELU(), nn.Linear(3 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).transpose(1, 2))
        update: torch.Tensor = self.mlp(y)
        return x + update.transpose(1, 2)


def spectrogram_to_wave(
    spec_out: torch.Tensor, n_fft: int, hop: int, n: int, window: torch.Tensor
) -> torch.Tensor:
    """(B, n_fft + 2, frames) log-magnitude and phase halves -> (B, n) by ``torch.istft``."""
    log_mag, phase = spec_out.chunk(2, dim=1)
    magnitude = torch.clamp(torch.exp(log_mag), max=MAX_MAGNITUDE)
    stft = torch.polar(magnitude, phase)
    return torch.istft(stft, n_fft, hop, window=window, center=True, length=n)


class VocosHead(nn.Module):
    """(B, n) -> (B, n): frames centred at t*hop (as iSTFT places them), ConvNeXt, iSTFT."""

    window: torch.Tensor

    def __init__(self, spec: GeneratorSpec, dim: int = 64, n_blocks: int = 4) -> None:
        super().__init__()
        self.hop, self.n_fft = spec.hop, spec.n_fft
        self.frontend, c_in = build_frontend(spec, ENCODER_STRIDES.get(spec.hop, ()))
        self.embed = nn.Conv1d(c_in, dim, 7, padding=3)
        self.blocks = nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(n_blocks)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, spec.n_fft + 2)
        self.register_buffer("window", torch.hann_window(spec.n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        h = self.blocks(self.embed(self.frontend(x, n // self.hop + 1, 0)))
        out = self.head(self.norm(h.transpose(1, 2))).transpose(1, 2)
        return spectrogram_to_wave(out, self.n_fft, self.hop, n, self.window)


class ISTFTNet(nn.Module):
    """(B, n) -> (B, n): log-mel, tconv stages ``spec.strides``, iSTFT n_fft ``spec.n_fft``."""

    window: torch.Tensor

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        self.hop, self.n_fft = spec.hop, spec.n_fft
        upsampling = int(np.prod(spec.strides))
        self.istft_hop = spec.hop // upsampling
        # Mel frame t lands on small frame t*up + (up-1)/2, i.e. sample istft_hop times that.
        self.offset = self.istft_hop * (upsampling - 1) // 2
        self.frontend, c_in = build_frontend(spec, ())
        self.decoder = UpsamplerStack(
            c_in, spec.strides, "tconv", spec.activation, spec.channels, out=spec.n_fft + 2
        )
        self.register_buffer("window", torch.hann_window(spec.n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        out = self.decoder(self.frontend(x, n // self.hop + 1, self.offset))
        out = fit_length(out, n // self.istft_hop + 1)
        log_mag, phase = out.chunk(2, dim=1)
        out = torch.cat([log_mag, torch.pi * torch.sin(phase)], dim=1)
        return spectrogram_to_wave(out, self.n_fft, self.istft_hop, n, self.window)


def build(spec: GeneratorSpec) -> nn.Module:
    """The spec's model: ISTFTNet when it has tconv strides, else a Vocos head."""
    return ISTFTNet(spec) if spec.strides else VocosHead(spec)


def _vocos(rate: int, hop: int, n_mels: int, tag: str = "", latent: bool = False) -> GeneratorSpec:
    khz = f"{rate // 1000}k"
    return GeneratorSpec(
        name=f"istft-head/vocos{tag}-{khz}-h{hop}",
        family="istft-head",
        output_rate=rate,
        hop=hop,
        upsampler="istft",
        conditioning="latent" if latent else "mel",
        activation="gelu",
        n_fft=4 * hop,
        n_mels=n_mels,
    )


def _istftnet(rate: int, strides: tuple[int, int], n_mels: int) -> GeneratorSpec:
    hop = 4 * strides[0] * strides[1]
    return GeneratorSpec(
        name=f"istft-head/istftnet-{rate // 1000}k-h{hop}",
        family="istft-head",
        output_rate=rate,
        hop=hop,
        upsampler="istft",
        conditioning="mel",
        strides=strides,
        n_fft=16,
        n_mels=n_mels,
        channels=128,
    )


SPECS: tuple[GeneratorSpec, ...] = (
    _vocos(24000, 256, 100),
    _vocos(44100, 512, 128),
    _vocos(16000, 256, 80),
    _vocos(24000, 320, 0, tag="-encodec", latent=True),
    _istftnet(22050, (8, 8), 80),
    _istftnet(32000, (16, 8), 80),
)

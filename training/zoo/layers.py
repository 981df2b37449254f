"""Building blocks shared by the neural families: activations, residual blocks, front ends.

Alignment convention: every strided layer here (encoder conv, transposed conv, nearest or
linear interpolation, sub-pixel shuffle) maps frame ``t`` to the block of samples
``[t*s, t*s + s)`` of the finer grid, centred at ``t*s + (s-1)/2``. A stack of strides with
product ``H`` therefore puts frame ``t`` at ``t*H + (H-1)/2``; front ends are told where a
decoder puts its frames and shift their input to match, so no decoder has a latency.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """``y[..., n] = x[..., n + k]`` with zeros where that index is outside ``x``."""
    if k == 0:
        return x
    if k > 0:
        return F.pad(x[..., k:], (0, k))
    return F.pad(x[..., :k], (-k, 0))


def fit_length(x: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or zero-pad the last axis to ``n``."""
    return x[..., :n] if x.shape[-1] >= n else F.pad(x, (0, n - x.shape[-1]))


def stride_kernel(s: int) -> tuple[int, int]:
    """(kernel, padding) that keep a strided layer centred: even ``s`` 2s, odd ``s`` 2s+1."""
    return 2 * s + s % 2, (s + s % 2) // 2


class Snake(nn.Module):
    """x + sin^2(alpha x) / alpha with a learnt alpha per channel (BigVGAN, DAC)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.alpha * x).pow(2) / (self.alpha + 1e-9)


def activation(kind: str, channels: int) -> nn.Module:
    """The named nonlinearity: "leaky" (HiFi-GAN), "elu" (SEANet), "snake" or "gelu"."""
    if kind == "snake":
        return Snake(channels)
    if kind == "elu":
        return nn.ELU()
    if kind == "gelu":
        return nn.GELU()
    return nn.LeakyReLU(0.1)


class ResBlock(nn.Module):
    """Dilated residual units, kernel 3: x + conv1(act(conv_d(act(x)))) per dilation."""

    def __init__(self, channels: int, act: str, dilations: tuple[int, ...] = (1, 3, 9)) -> None:
        super().__init__()
        self.units = nn.ModuleList(
            nn.Sequential(
                activation(act, channels),
                nn.Conv1d(channels, channels, 3, dilation=d, padding=d),
                activation(act, channels),
                nn.Conv1d(channels, channels, 1),
            )
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.units:
            x = x + unit(x)
        return x


class UpStage(nn.Module):
    """One upsampling layer by ``stride``: transposed conv, interpolation + conv, or sub-pixel."""

    def __init__(self, kind: str, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.kind, self.stride, self.c_out = kind, stride, c_out
        kernel, padding = stride_kernel(stride)
        self.conv: nn.Module
        if kind == "tconv":
            self.conv = nn.ConvTranspose1d(c_in, c_out, kernel, stride, padding)
        elif kind in ("nearest", "linear"):
            self.conv = nn.Conv1d(c_in, c_out, 2 * stride + 1, padding=stride)
        elif kind == "subpixel":
            self.conv = nn.Conv1d(c_in, c_out * stride, 7, padding=3)
        else:
            raise ValueError(f"unknown upsampler {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind in ("nearest", "linear"):
            x = F.interpolate(x, scale_factor=self.stride, mode=self.kind)
        y: torch.Tensor = self.conv(x)
        if self.kind != "subpixel":
            return y
        # (B, C*s, T) -> (B, C, T*s): channel c*s + j becomes sample t*s + j
        b, _, t = y.shape
        return y.view(b, self.c_out, self.stride, t).transpose(2, 3).reshape(b, self.c_out, -1)


def stage_widths(first: int, strides: tuple[int, ...]) -> list[int]:
    """Channel widths at the frame rate and after each upsampling stage.

    Width shrinks with the square root of the remaining upsampling (8 at the two finest stages,
    ``first`` at most), so that every stage costs about the same per output sample.
    """
    remaining = [math.prod(strides[i + 1 :]) for i in range(len(strides))]
    return [first, *(max(8, min(first, round(4 * math.sqrt(r)))) for r in remaining)]


# Residual blocks sit only where a frame still spans this many samples or more: at the
# output rate they would dominate the cost and add nothing to the upsampling artefact.
RESIDUAL_MIN_SPAN = 4


class UpsamplerStack(nn.Module):
    """conv_pre, then per stride an UpStage and a ResBlock, then conv_post to ``out`` channels."""

    def __init__(
        self, c_in: int, strides: tuple[int, ...], kind: str, act: str, first: int, out: int = 1
    ) -> None:
        super().__init__()
        widths = stage_widths(first, strides)
        self.pre = nn.Conv1d(c_in, first, 7, padding=3)
        self.stages = nn.ModuleList()
        for i, s in enumerate(strides):
            stage = [activation(act, widths[i]), UpStage(kind, widths[i], widths[i + 1], s)]
            if math.prod(strides[i + 1 :]) >= RESIDUAL_MIN_SPAN:
                stage.append(ResBlock(widths[i + 1], act))
            self.stages.append(nn.Sequential(*stage))
        self.post = nn.Sequential(
            activation(act, widths[-1]), nn.Conv1d(widths[-1], out, 7, padding=3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        for stage in self.stages:
            x = stage(x)
        out: torch.Tensor = self.post(x)
        return out


class ConvEncoder(nn.Module):
    """Mirror of an upsampling stack: strided convs (finest stride first) to a latent.

    ``forward(x, n_frames, offset)``: (B, n) -> (B, latent_dim, n_frames), frame ``t``
    summarising the samples around ``t*hop + offset``.
    """

    def __init__(self, strides: tuple[int, ...], act: str, first: int, latent_dim: int) -> None:
        super().__init__()
        widths = stage_widths(first, strides)[::-1]
        layers: list[nn.Module] = [nn.Conv1d(1, widths[0], 7, padding=3)]
        for i, s in enumerate(reversed(strides)):
            kernel, padding = stride_kernel(s)
            if math.prod(strides[len(strides) - i :]) >= RESIDUAL_MIN_SPAN:
                layers.append(ResBlock(widths[i], act, dilations=(1, 3)))
            layers += [
                activation(act, widths[i]),
                nn.Conv1d(widths[i], widths[i + 1], kernel, s, padding),
            ]
        layers += [activation(act, widths[-1]), nn.Conv1d(widths[-1], latent_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)
        self.hop = int(np.prod(strides))

    def forward(self, x: torch.Tensor, n_frames: int, offset: int) -> torch.Tensor:
        x = fit_length(shift(x, offset - (self.hop - 1) // 2), n_frames * self.hop)
        latent: torch.Tensor = self.net(x.unsqueeze(1))
        return latent


class MelFrontend(nn.Module):
    """Log-mel frames (n_fft = 4 * hop, Hann) with frame ``t`` centred at ``t*hop + offset``."""

    fb: torch.Tensor
    window: torch.Tensor

    def __init__(self, rate: int, hop: int, n_mels: int) -> None:
        super().__init__()
        self.hop, self.n_fft = hop, 4 * hop
        fb = librosa.filters.mel(sr=rate, n_fft=self.n_fft, n_mels=n_mels)
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, x: torch.Tensor, n_frames: int, offset: int) -> torch.Tensor:
        left = self.n_fft // 2 - offset
        x = F.pad(x, (max(left, 0), 0))[..., max(-left, 0) :]
        x = fit_length(x, (n_frames - 1) * self.hop + self.n_fft)
        spec = torch.stft(
            x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True
        )
        return torch.log(torch.clamp(self.fb @ spec.abs(), min=1e-5))

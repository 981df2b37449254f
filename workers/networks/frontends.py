"""Front ends shared by the detector zoo: sinc filterbank, residual encoder, LFCC, peak norm.

Everything here is an inference implementation of the published designs (AASIST, RawGAT-ST,
CtrSVDD baselines): dropout and training-time frequency masking are left out because they
are identities in eval mode. Module and parameter names follow the upstream code so the
published state dicts load with ``strict=True``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class SincBandpass(nn.Module):
    """Fixed mel-spaced sinc band-pass filterbank (AASIST's ``CONV``), no learnable weights.

    Input (B, n) float32 waveform at ``sample_rate``; output (B, out_channels, n - kernel + 1)
    with an odd kernel (``kernel_size`` is bumped to the next odd number, as upstream).
    """

    filters: torch.Tensor

    def __init__(self, out_channels: int, kernel_size: int, sample_rate: int = 16000) -> None:
        super().__init__()
        kernel = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
        # Band edges: equally spaced on the mel scale between the FFT bins of a 512-point FFT.
        freqs = (sample_rate // 2) * np.linspace(0.0, 1.0, 257)
        mels = np.linspace(_hz_to_mel(freqs.min()), _hz_to_mel(freqs.max()), out_channels + 1)
        edges = _mel_to_hz(mels)
        taps = np.arange(-(kernel - 1) / 2, (kernel - 1) / 2 + 1)
        bank = np.empty((out_channels, kernel))
        for i, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            ideal = _lowpass(high, taps, sample_rate) - _lowpass(low, taps, sample_rate)
            bank[i] = np.hamming(kernel) * ideal
        # Not persistent: upstream state dicts do not carry the filters, they are recomputed.
        self.register_buffer(
            "filters", torch.tensor(bank, dtype=torch.float32).unsqueeze(1), persistent=False
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return F.conv1d(waveform.unsqueeze(1), self.filters)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595 * np.log10(1 + np.asarray(hz) / 700)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700 * (10 ** (mel / 2595) - 1)


def _lowpass(cutoff: float, taps: np.ndarray, sample_rate: int) -> np.ndarray:
    return (2 * cutoff / sample_rate) * np.sinc(2 * cutoff * taps / sample_rate)


def sinc_feature_map(
    waveform: torch.Tensor, sinc: SincBandpass, first_bn: nn.BatchNorm2d
) -> torch.Tensor:
    """The sinc-layer stem of AASIST, RawGAT-ST and SVDD B02: (B, n) -> (B, 1, F, T).

    The filterbank output is read as a one-channel image, |.| max-pooled by 3 in both axes.
    """
    x = sinc(waveform).unsqueeze(1)
    x = F.max_pool2d(torch.abs(x), (3, 3))
    return F.selu(first_bn(x))


class ResidualBlock(nn.Module):
    """AASIST's 2-D residual block: (B, C_in, F, T) -> (B, C_out, F, T // 3)."""

    def __init__(self, in_channels: int, out_channels: int, first: bool = False) -> None:
        super().__init__()
        self.first = first
        if not first:
            # Loaded for fidelity, never applied: upstream computes bn1(x) then convolves x,
            # discarding it, and the published weights were trained with that behaviour.
            self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, (2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (2, 3), padding=(0, 1))
        self.downsample = in_channels != out_channels
        if self.downsample:
            self.conv_downsample = nn.Conv2d(in_channels, out_channels, (1, 3), padding=(0, 1))

    def first_conv(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.selu(self.bn2(self.first_conv(x))))
        identity = self.conv_downsample(x) if self.downsample else x
        # Broadcasting matters: RawGAT-ST's first block adds a 1-channel identity to 32.
        return F.max_pool2d(out + identity, (1, 3))


def build_encoder(
    filts: list[tuple[int, int]], block: type[ResidualBlock] = ResidualBlock
) -> nn.Sequential:
    """Residual blocks named ``N.0`` like upstream (each block wrapped in a Sequential)."""
    return nn.Sequential(
        *(nn.Sequential(block(c_in, c_out, first=i == 0)) for i, (c_in, c_out) in enumerate(filts))
    )


class PowerSpectrogram(nn.Module):
    """|STFT|^2 with a periodic Hann window and no centre padding.

    Input (B, n) float32; output (B, n_fft // 2 + 1, frames), frames = 1 + (n - n_fft) // hop.
    """

    window: torch.Tensor

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            waveform,
            self.n_fft,
            self.hop_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        return spec.abs().pow(2.0)


class LFCC(nn.Module):
    """Linear-frequency cepstral coefficients, the torchaudio recipe written in torch.

    Power spectrogram -> triangular linear filterbank -> dB (floor 80 dB below each
    example's peak) -> orthonormal DCT-II. Input (B, n) float32 at ``sample_rate``;
    output (B, n_lfcc, frames).
    """

    filter_mat: torch.Tensor
    dct_mat: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 16000,
        n_filter: int = 20,
        n_lfcc: int = 60,
        n_fft: int = 512,
        hop_length: int = 160,
        top_db: float = 80.0,
    ) -> None:
        super().__init__()
        self.top_db = top_db
        self.Spectrogram = PowerSpectrogram(n_fft, hop_length)
        self.register_buffer("filter_mat", linear_filterbank(n_fft // 2 + 1, n_filter, sample_rate))
        self.register_buffer("dct_mat", dct_matrix(n_lfcc, n_filter))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        bands = self.Spectrogram(waveform).transpose(1, 2) @ self.filter_mat
        decibels = 10.0 * torch.log10(bands.clamp(min=1e-10))
        peak = decibels.amax(dim=(1, 2), keepdim=True)
        decibels = torch.maximum(decibels, peak - self.top_db)
        return (decibels @ self.dct_mat).transpose(1, 2)


def linear_filterbank(n_freqs: int, n_filter: int, sample_rate: int) -> torch.Tensor:
    """Triangular filters equally spaced from 0 Hz to Nyquist: (n_freqs, n_filter) float32."""
    bins = torch.linspace(0, sample_rate // 2, n_freqs)
    points = torch.linspace(0, sample_rate // 2, n_filter + 2)
    widths = points[1:] - points[:-1]
    slopes = points.unsqueeze(0) - bins.unsqueeze(1)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


def dct_matrix(n_coefficients: int, n_bands: int) -> torch.Tensor:
    """Orthonormal DCT-II basis as (n_bands, n_coefficients) float32.

    With more coefficients than bands (60 from 20, as the SVDD baseline asks) the upper rows
    alias lower ones; kept as is because the published weights were trained on them.
    """
    n = torch.arange(float(n_bands))
    k = torch.arange(float(n_coefficients)).unsqueeze(1)
    basis = torch.cos(math.pi / n_bands * (n + 0.5) * k)
    basis[0] *= 1.0 / math.sqrt(2.0)
    basis *= math.sqrt(2.0 / n_bands)
    return basis.t().contiguous()


def peak_normalise(batch: torch.Tensor) -> torch.Tensor:
    """Scale each row of (B, n) so its peak |sample| is 1; silent rows are left unchanged."""
    peak = batch.abs().amax(dim=1, keepdim=True)
    return batch / torch.where(peak > 0, peak, torch.ones_like(peak))

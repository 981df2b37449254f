"""The griffin-lim family: phase retrieval from STFT or mel magnitudes.

No weights: the artefact is the algorithm's inconsistent phase, and for mel inversion also
the smeared fine structure of a non-negative least-squares mel-to-STFT estimate. The steps
are librosa's (``feature.inverse.mel_to_stft`` then ``griffinlim``: fast Griffin-Lim with
momentum 0.99 from a random phase); they run in torch because librosa's NNLS and STFT
loop run at about real time on two cores, and the zoo must run at ten times that.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch

from training.zoo.spec import GeneratorSpec

MOMENTUM = 0.99  # librosa.griffinlim's default
NNLS_ITERATIONS = 100
_EPS = 1e-16


def nonnegative_least_squares(basis: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """argmin_{X >= 0} ||basis @ X - target||^2 by accelerated projected gradient (FISTA).

    Starts from the clipped pseudo-inverse solution; the problem is convex, so this reaches
    the same solution as librosa's L-BFGS-B up to its tolerance.
    """
    step = 1.0 / torch.linalg.matrix_norm(basis, ord=2) ** 2
    x = torch.clamp(torch.linalg.pinv(basis) @ target, min=0.0)
    y, t = x, 1.0
    for _ in range(NNLS_ITERATIONS):
        # The gradient through the (n_mels, n_freq) basis, never its (n_freq, n_freq) Gram.
        x_next = torch.clamp(y - step * (basis.T @ (basis @ y - target)), min=0.0)
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = x_next + ((t - 1.0) / t_next) * (x_next - x)
        x, t = x_next, t_next
    return x


def griffinlim(
    magnitude: torch.Tensor, n_fft: int, hop: int, n: int, rng: np.random.Generator, n_iter: int
) -> torch.Tensor:
    """(B, n_fft // 2 + 1, frames) magnitudes -> (B, n) signal; librosa's fast Griffin-Lim."""
    window = torch.hann_window(n_fft, dtype=magnitude.dtype)

    def stft(x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, n_fft, hop, window=window, pad_mode="constant", return_complex=True)

    def istft(s: torch.Tensor) -> torch.Tensor:
        return torch.istft(s, n_fft, hop, window=window, length=n)

    phase = torch.from_numpy(2.0 * np.pi * rng.random(magnitude.shape)).to(magnitude.dtype)
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = stft(istft(magnitude * angles))
        angles = rebuilt - (MOMENTUM / (1.0 + MOMENTUM)) * previous
        angles = angles / (angles.abs() + _EPS)
        previous = rebuilt
    return istft(magnitude * angles)


def invert(spec: GeneratorSpec, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(channels, n) float32 at ``spec.output_rate`` -> its Griffin-Lim re-synthesis, same shape."""
    x = torch.from_numpy(np.ascontiguousarray(audio)).double()
    window = torch.hann_window(spec.n_fft, dtype=x.dtype)
    stft = torch.stft(
        x, spec.n_fft, spec.hop, window=window, pad_mode="constant", return_complex=True
    )
    magnitude = stft.abs()
    if spec.conditioning == "mel":
        basis = librosa.filters.mel(sr=spec.output_rate, n_fft=spec.n_fft, n_mels=spec.n_mels)
        basis_t = torch.from_numpy(basis).to(x.dtype)
        mel_power = basis_t @ magnitude**2  # librosa.feature.melspectrogram, power 2
        magnitude = torch.sqrt(nonnegative_least_squares(basis_t, mel_power))
    out = griffinlim(magnitude, spec.n_fft, spec.hop, audio.shape[-1], rng, spec.n_iter)
    return out.float().numpy()


def _gl(cond: str, rate: int, n_fft: int, n_iter: int, n_mels: int = 0) -> GeneratorSpec:
    source = f"mel{n_mels}" if cond == "mel" else "stft"
    return GeneratorSpec(
        name=f"griffin-lim/{source}-{rate // 1000}k-n{n_fft}-i{n_iter}",
        family="griffin-lim",
        output_rate=rate,
        hop=n_fft // 4,
        upsampler="griffin-lim",
        conditioning=cond,
        n_fft=n_fft,
        n_mels=n_mels,
        n_iter=n_iter,
    )


SPECS: tuple[GeneratorSpec, ...] = (
    _gl("stft", 44100, 512, 32),
    _gl("stft", 44100, 2048, 8),
    _gl("stft", 44100, 4096, 60),
    _gl("stft", 22050, 1024, 100),
    _gl("mel", 22050, 1024, 32, n_mels=80),
    _gl("mel", 24000, 1024, 16, n_mels=80),
    _gl("mel", 44100, 2048, 32, n_mels=128),
)

"""Brief training of a neural generator on real excerpts, with an on-disk cache of weights.

The artefacts under study come from the architecture, so a short fit is enough: it turns a
random decoder's noise into audio that follows the input, as a real generator's would.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.zoo.spec import GeneratorSpec, derived_seed

DEFAULT_STEPS = 120
LEARNING_RATE = 2e-3
BATCH_SIZE = 1
CHUNK_SECONDS = (1.0, 2.0)
STFT_SIZES = (256, 1024, 2048)


def excerpt_digest(excerpts: list[np.ndarray]) -> str:
    """sha256 of the excerpt set (shapes and float32 samples, in order)."""
    sha = hashlib.sha256()
    for excerpt in excerpts:
        sha.update(repr(excerpt.shape).encode())
        sha.update(np.ascontiguousarray(excerpt, dtype=np.float32).tobytes())
    return sha.hexdigest()


def cache_path(cache_dir: Path, spec: GeneratorSpec, seed: int, steps: int, digest: str) -> Path:
    """Where the fitted state of (generator, seed, steps, excerpt set, architecture) lives."""
    slug = spec.name.replace("/", "__")
    return cache_dir / f"{slug}-seed{seed}-steps{steps}-{digest[:16]}-{spec.digest()}.pt"


def spectral_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT L1 (linear and log magnitude) plus waveform L1."""
    loss = F.l1_loss(out, target)
    for n_fft in STFT_SIZES:
        window = torch.hann_window(n_fft)
        mags = [
            torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs()
            for x in (out, target)
        ]
        loss = loss + F.l1_loss(mags[0], mags[1])
        loss = loss + F.l1_loss(torch.log(mags[0] + 1e-5), torch.log(mags[1] + 1e-5))
    return loss


def random_batch(
    sources: list[np.ndarray], rate: int, hop: int, rng: np.random.Generator
) -> torch.Tensor:
    """(BATCH_SIZE, n) float32 tensor of mono chunks, n a multiple of hop, 1-2 s long."""
    seconds = rng.uniform(*CHUNK_SECONDS)
    n = max(hop, int(seconds * rate) // hop * hop)
    batch = np.zeros((BATCH_SIZE, n), dtype=np.float32)
    for row in batch:
        source = sources[int(rng.integers(len(sources)))]
        start = int(rng.integers(max(1, source.size - n + 1)))
        piece = source[start : start + n]
        row[: piece.size] = piece
    return torch.from_numpy(batch)


def train_autoencoder(
    model: nn.Module, spec: GeneratorSpec, sources: list[np.ndarray], steps: int, seed: int
) -> dict[str, torch.Tensor]:
    """``steps`` Adam steps of ``model`` rebuilding mono chunks of ``sources``.

    sources: mono float32 (n,) arrays at ``spec.output_rate``. Returns the trained state.
    """
    rng = np.random.default_rng(derived_seed(spec.name, seed) + 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(0.8, 0.99))
    model.train()
    for _ in range(steps):
        batch = random_batch(sources, spec.output_rate, spec.hop, rng)
        loss = spectral_loss(model(batch), batch)
        optimiser.zero_grad()
        torch.autograd.backward(loss)
        optimiser.step()
    model.eval()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}

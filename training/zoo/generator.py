"""A generator applied to real audio: resample, decode in chunks, resample back, match RMS."""

from __future__ import annotations

import math
from collections.abc import Callable

import librosa
import numpy as np
import torch
from torch import nn

from training.zoo.spec import SAMPLE_RATE, GeneratorSpec, derived_seed

# Decoding works on chunks of about this many samples (at the generator's rate), each with
# MARGIN_FRAMES frames of real context either side, which exceeds every decoder's receptive
# field: chunked output equals one-pass output, and memory stays flat for any track length.
CHUNK_SAMPLES = 2**17
MARGIN_FRAMES = 24
_SILENCE_RMS = 1e-8

ModelBuilder = Callable[[GeneratorSpec], nn.Module]
Inverter = Callable[[GeneratorSpec, np.ndarray, np.random.Generator], np.ndarray]

# State dicts from fit_generators in this process, keyed by (name, seed).
_fitted: dict[tuple[str, int], dict[str, torch.Tensor]] = {}


def remember_fitted(name: str, seed: int, state: dict[str, torch.Tensor]) -> None:
    """Make later ``load_generator(name, seed)`` calls use these fitted weights."""
    _fitted[(name, seed)] = state


def forget_fitted() -> None:
    """Back to random-init models for every generator (tests use this)."""
    _fitted.clear()


def init_model(spec: GeneratorSpec, build: ModelBuilder, seed: int) -> nn.Module:
    """The model with its seeded random init, leaving the global torch RNG untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(derived_seed(spec.name, seed))
        model = build(spec)
    return model.eval()


def resample(audio: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample along the last axis (soxr, linear phase, so time-aligned); float32."""
    if orig_rate == target_rate:
        return audio.astype(np.float32, copy=False)
    out = librosa.resample(audio, orig_sr=orig_rate, target_sr=target_rate, res_type="soxr_hq")
    return np.asarray(out, dtype=np.float32)


def decode_chunked(model: nn.Module, audio: np.ndarray, hop: int, chunk: int) -> np.ndarray:
    """Run ``model`` ((B, n) -> (B, n), n a multiple of hop) over (channels, m) in chunks."""
    m = audio.shape[-1]
    frames, margin = math.ceil(m / hop), MARGIN_FRAMES * hop
    step = max(1, chunk // hop)
    padded = torch.zeros(audio.shape[0], (frames + 2 * MARGIN_FRAMES) * hop)
    padded[:, margin : margin + m] = torch.from_numpy(audio)
    pieces = []
    with torch.inference_mode():
        for f0 in range(0, frames, step):
            f1 = min(frames, f0 + step)
            y = model(padded[:, f0 * hop : f1 * hop + 2 * margin])
            pieces.append(y[:, margin : margin + (f1 - f0) * hop])
    return torch.cat(pieces, dim=-1)[:, :m].numpy().astype(np.float32)


def match_rms(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Scale each channel of ``out`` to the RMS of the same channel of ``reference``."""
    target = np.sqrt(np.mean(np.square(reference, dtype=np.float64), axis=-1, keepdims=True))
    actual = np.sqrt(np.mean(np.square(out, dtype=np.float64), axis=-1, keepdims=True))
    gain = np.where(actual > _SILENCE_RMS, target / np.maximum(actual, _SILENCE_RMS), 0.0)
    return (out * gain).astype(np.float32)


class Generator:
    """One zoo member, ready to apply: a spec plus a model (neural) or an inverter.

    ``__call__(audio, rate)``: float32 (channels, n) or (n,) at ``rate`` (44.1 kHz in the
    project) -> the synthetic counterpart, float32, same shape, time-aligned, the RMS of
    each channel matched. Channels are decoded independently as one batch.
    """

    def __init__(
        self,
        spec: GeneratorSpec,
        seed: int = 0,
        model: nn.Module | None = None,
        inverter: Inverter | None = None,
        chunk_samples: int = CHUNK_SAMPLES,
    ) -> None:
        if (model is None) == (inverter is None):
            raise ValueError("a generator needs exactly one of a model and an inverter")
        self.spec, self.seed, self.model, self.inverter = spec, seed, model, inverter
        self.chunk_samples = chunk_samples

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def output_rate(self) -> int:
        return self.spec.output_rate

    @property
    def hop(self) -> int:
        return self.spec.hop

    def __call__(self, audio: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        channels = audio[None] if audio.ndim == 1 else audio
        at_rate = resample(channels, rate, self.spec.output_rate)
        if self.model is not None:
            decoded = decode_chunked(self.model, at_rate, self.spec.hop, self.chunk_samples)
        else:
            assert self.inverter is not None
            rng = np.random.default_rng(derived_seed(self.spec.name, self.seed))
            decoded = self.inverter(self.spec, at_rate, rng)
        out = librosa.util.fix_length(
            resample(decoded, self.spec.output_rate, rate), size=channels.shape[-1]
        )
        # A random decoder's bias often adds a DC offset: not the artefact under study, and
        # RMS matching would otherwise turn it into most of the output.
        out = match_rms(out - out.mean(axis=-1, keepdims=True), channels)
        return out[0] if audio.ndim == 1 else out

    def __repr__(self) -> str:
        return f"Generator({self.name!r}, seed={self.seed})"


def fitted_state(name: str, seed: int) -> dict[str, torch.Tensor] | None:
    """The weights fit_generators produced for (name, seed) in this process, if any."""
    return _fitted.get((name, seed))


def blend(real: np.ndarray, fake: np.ndarray, fraction: float) -> np.ndarray:
    """``(1 - fraction) * real + fraction * fake``: aligned arrays of one shape, float32."""
    if real.shape != fake.shape:
        raise ValueError(f"shapes differ: real {real.shape}, fake {fake.shape}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    return ((1.0 - fraction) * real + fraction * fake).astype(np.float32)


BLEND_FRACTIONS = (0.15, 0.3, 0.5, 1.0)


def random_blend_fraction(rng: np.random.Generator) -> float:
    """A fraction of synthetic signal drawn uniformly from BLEND_FRACTIONS."""
    return float(BLEND_FRACTIONS[int(rng.integers(len(BLEND_FRACTIONS)))])

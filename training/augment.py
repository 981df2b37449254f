"""The conditions every training item passes through, real or fake alike: no giveaways.

The sources differ in ways that say nothing about synthesis: one publishes 16 kHz 10 s clips,
another 48 kHz stereo Opus, another mono 32 kHz MP3; loudness and length differ too. A
detector can learn those instead of the artefacts. So every excerpt, whatever its class, is
cut to a random length, resampled through a rate drawn from 16-48 kHz, passed through a codec
condition of ``training.conditions``, given a random gain and brought to the detector's input
(mono at the detector's rate), exactly as the service would receive and canonicalise it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from training.conditions import RATE, apply_condition, random_condition
from workers.compute.audio import resample

RATES = (16000, 22050, 24000, 32000, 44100, 48000)
SHORT_SHARE = 0.3
"""Share of excerpts cut to SHORT_SECONDS: some sources publish only 5-10 s clips."""
SHORT_SECONDS = (5.0, 10.0)
GAIN_DB = (-12.0, 0.0)
PEAK = 0.99


@dataclass(frozen=True)
class Drawn:
    """What one excerpt went through."""

    start_seconds: float
    seconds: float
    rate: int
    condition: str
    gain_db: float


def item_rng(item_id: str, excerpt: int, seed: int) -> np.random.Generator:
    """The random stream of one excerpt of one item: the same on every run and machine."""
    return np.random.default_rng(zlib.crc32(f"{seed}:{item_id}:{excerpt}".encode()))


def read_mono(path: Path, start: float, seconds: float) -> tuple[np.ndarray, int]:
    """Mono float32 (n,) of ``seconds`` from ``start`` of an audio file, at the file's rate."""
    info = sf.info(str(path))
    first = int(start * info.samplerate)
    audio, rate = sf.read(
        str(path), start=first, frames=int(seconds * info.samplerate), dtype="float32",
        always_2d=True,
    )  # fmt: skip
    return audio.mean(axis=1), int(rate)


def draw_span(duration: float, rng: np.random.Generator, longest: float) -> tuple[float, float]:
    """(start, seconds) of an excerpt: ``longest`` seconds, or a short one SHORT_SHARE of the
    time, never past the item's end."""
    seconds = longest if rng.random() >= SHORT_SHARE else float(rng.uniform(*SHORT_SECONDS))
    seconds = min(seconds, duration)
    return float(rng.uniform(0.0, max(0.0, duration - seconds))), seconds


def condition_excerpt(
    mono: np.ndarray,
    rate: int,
    rng: np.random.Generator,
    out_rate: int,
    condition: str | None = None,
) -> tuple[np.ndarray, Drawn]:
    """A mono excerpt through a drawn sample rate, codec condition (``condition`` when given)
    and gain, at ``out_rate``.

    mono: float32 (n,) at ``rate``. Returns float32 (m,) at ``out_rate`` and what was drawn
    (start and seconds are left 0 here; the caller knows them)."""
    canonical = resample(np.asarray(mono, dtype=np.float32), rate, RATE)
    through = int(RATES[int(rng.integers(len(RATES)))])
    canonical = resample(resample(canonical, RATE, through), through, RATE)
    condition = random_condition(rng) if condition is None else condition
    coded = apply_condition(canonical[None, :], RATE, condition)[0]
    gain_db = float(rng.uniform(*GAIN_DB))
    scale = min(10 ** (gain_db / 20), PEAK / (float(np.abs(coded).max()) + 1e-9))
    out = resample((coded * scale).astype(np.float32), RATE, out_rate)
    return out, Drawn(0.0, canonical.size / RATE, through, condition, gain_db)


def mix_over(vocals: np.ndarray, bed: np.ndarray, vocal_to_bed_db: float) -> np.ndarray:
    """``vocals`` over an instrumental ``bed`` (same rate; the bed cut or zero-padded to the
    vocals' length) at a vocal-to-accompaniment level in dB (RMS over the excerpt)."""
    bed = np.pad(bed[: vocals.size], (0, max(0, vocals.size - bed.size)))
    vocal_rms = float(np.sqrt(np.mean(vocals.astype(np.float64) ** 2))) + 1e-9
    bed_rms = float(np.sqrt(np.mean(bed.astype(np.float64) ** 2))) + 1e-9
    mixed: np.ndarray = vocals / vocal_rms * bed_rms * 10 ** (vocal_to_bed_db / 20) + bed
    return mixed.astype(np.float32)

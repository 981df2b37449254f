"""Band-safe full-mix features at 16 kHz: decoder artefacts that survive any sample rate.

Real generators publish at 16, 22.05, 32, 44.1 or 48 kHz, and real music reaches us at all of
those too, so anything above 8 kHz tells the sample rate of the master before it tells the
maker. These features look only below 8 kHz (the audio is resampled to SAMPLE_RATE first) and
are level-free (log ratios, differences and fractions), so sample rate, channel count and gain
cannot be the signal. Three families, averaged over a window:

- residual peaks: the long-term spectrum at ~3.9 Hz resolution minus its running-median
  envelope; per-band peak statistics and the residual's periodicity over frequency
  (upsampling layers leave fixed, evenly spaced peaks; Afchar et al., 2025);
- phase consistency: at spectral peaks, the agreement of neighbouring bins' instantaneous
  frequency (spectrogram inversion and vocoders leave it inconsistent);
- texture: per band, how rough the log spectrogram is over time and over frequency, how
  much it varies, and how noise-like it is (flatness): neural decoders smooth or blur
  fine time-frequency structure in ways that depend on the band, not the notes.

Input everywhere: float32 mono (n,) at SAMPLE_RATE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import stft

from workers.mixture.features import (
    ArtefactGrid,
    phase_counts,
    phase_features,
    residual_spectrum,
    spectral_features,
)

FEATURES_NAME = "texture-16k"
"""The name a checkpoint records for these features (``workers.mixture.classifier``)."""
SAMPLE_RATE = 16000
FINE_NFFT = 4096
FINE_HOP = 2048
ENVELOPE_BINS = 45  # ~175 Hz
PEAK_BANDS = ((250, 1000), (1000, 2000), (2000, 4000), (4000, 6000), (6000, 7800))
PERIOD_BAND = (1000, 7800)
PERIOD_LAG_EDGES = np.unique(np.geomspace(2, 400, 21).astype(int))
PHASE_NFFT = 1024
PHASE_HOP = 256
PHASE_BANDS = ((0, 1000), (1000, 2000), (2000, 4000), (4000, 7800))
PHASE_TOLERANCES = (0.02, 0.05, 0.1, 0.2, 0.5)
TEXTURE_NFFT = 512
TEXTURE_HOP = 256
TEXTURE_BANDS = (
    (0, 250), (250, 500), (500, 1000), (1000, 2000), (2000, 3000), (3000, 4000),
    (4000, 5500), (5500, 7800),
)  # fmt: skip
TEXTURE_STATS = 5
# The position-bound fingerprint: the residual itself over this band, max-pooled.
FINGERPRINT_BAND = (1000, 7800)
FINGERPRINT_POOL = 4
GRID = ArtefactGrid(
    SAMPLE_RATE, FINE_NFFT, ENVELOPE_BINS, PEAK_BANDS, PERIOD_BAND, PERIOD_LAG_EDGES,
    PHASE_NFFT, PHASE_HOP, PHASE_BANDS, PHASE_TOLERANCES,
)  # fmt: skip
"""The residual-peak and phase statistics of ``workers.mixture.features``, on this grid."""


@dataclass(frozen=True)
class TextureFrames:
    """Per-frame statistics of a whole track, summed over any window to give its features.

    ``fine``: (frames, FINE_NFFT // 2 + 1) float32 power, frame f at f * FINE_HOP.
    ``phase``: (frames, bands * (tolerances + 1)) float32 peak weights, frame f at f * PHASE_HOP.
    ``texture``: (frames, bands * TEXTURE_STATS) float32, frame f at f * TEXTURE_HOP.
    ``energy``: (frames,) float64 mean square of the samples of hop block f.
    """

    fine: np.ndarray
    phase: np.ndarray
    texture: np.ndarray
    energy: np.ndarray
    n_samples: int

    def level_db(self, start_s: float, end_s: float) -> float:
        """Mean power between two times, dB full scale (-inf for digital silence)."""
        energy = float(_rows(self.energy, start_s, end_s, TEXTURE_HOP).mean())
        return 10.0 * float(np.log10(energy)) if energy > 0 else float("-inf")

    def window(self, start_s: float, end_s: float) -> np.ndarray:
        """Feature vector (FEATURE_SIZE,) float32 of the audio between two times (seconds)."""
        fine = _rows(self.fine, start_s, end_s, FINE_HOP).mean(axis=0)
        phase = _rows(self.phase, start_s, end_s, PHASE_HOP).sum(axis=0)
        texture = _rows(self.texture, start_s, end_s, TEXTURE_HOP).mean(axis=0)
        return np.concatenate(
            [
                spectral_features(fine, GRID),
                phase_features(phase, GRID),
                texture_features(texture),
                fingerprint(fine),
            ]
        ).astype(np.float32)


def _rows(frames: np.ndarray, start_s: float, end_s: float, hop: int) -> np.ndarray:
    first = int(np.floor(start_s * SAMPLE_RATE / hop))
    last = int(np.ceil(end_s * SAMPLE_RATE / hop))
    first = min(max(first, 0), len(frames) - 1)
    return frames[first : max(last, first + 1)]


def _stft(signal: np.ndarray, nfft: int, hop: int) -> np.ndarray:
    """Complex STFT (frames, nfft // 2 + 1) complex64 of a Hann window, no padding."""
    _, _, spec = stft(signal, nperseg=nfft, noverlap=nfft - hop, boundary=None, padded=False)
    frames: np.ndarray = spec.T.astype(np.complex64)
    return frames


def texture_frames(mono: np.ndarray) -> TextureFrames:
    """Frame statistics of a whole track: mono float32 (n,) at SAMPLE_RATE."""
    signal = np.asarray(mono, dtype=np.float32)
    if signal.size < FINE_NFFT:
        signal = np.pad(signal, (0, FINE_NFFT - signal.size))
    fine = (np.abs(_stft(signal, FINE_NFFT, FINE_HOP)) ** 2).astype(np.float32)
    short = _stft(signal, TEXTURE_NFFT, TEXTURE_HOP)
    blocks = signal[: signal.size // TEXTURE_HOP * TEXTURE_HOP].reshape(-1, TEXTURE_HOP)
    energy = (blocks.astype(np.float64) ** 2).mean(axis=1)[: len(short)]
    return TextureFrames(
        fine,
        phase_counts(signal, GRID),
        texture_counts(np.abs(short)),
        energy,
        int(np.asarray(mono).size),
    )


def fingerprint(power: np.ndarray) -> np.ndarray:
    """The residual over FINGERPRINT_BAND, max-pooled over FINGERPRINT_POOL bins: where a
    decoder puts its peaks (Afchar et al.'s fingerprint, position-bound)."""
    low, high = (int(f * FINE_NFFT / SAMPLE_RATE) for f in FINGERPRINT_BAND)
    band = residual_spectrum(power, ENVELOPE_BINS)[low:high]
    band = band[: band.size - band.size % FINGERPRINT_POOL]
    pooled: np.ndarray = np.clip(band.reshape(-1, FINGERPRINT_POOL).max(axis=1), -10.0, 20.0)
    return pooled


def texture_counts(mag: np.ndarray) -> np.ndarray:
    """Per frame and band: |d/dt| and |d/df| of the log spectrum, the log spectrum and its
    square (for the variance over a window), and the log of spectral flatness."""
    log = np.log(mag.astype(np.float32) + 1e-7)
    d_time = np.abs(np.diff(log, axis=0, prepend=log[:1]))
    d_freq = np.abs(np.diff(log, axis=1, append=log[:, -1:]))
    freqs = np.arange(mag.shape[1]) * SAMPLE_RATE / TEXTURE_NFFT
    rows = []
    for low, high in TEXTURE_BANDS:
        sel = (freqs >= low) & (freqs < high)
        band_log = log[:, sel]
        mean_log = band_log.mean(axis=1)
        power = mag[:, sel].astype(np.float64) ** 2
        flat = np.log(np.exp(np.log(power + 1e-14).mean(axis=1)) / (power.mean(axis=1) + 1e-14))
        rows += [d_time[:, sel].mean(axis=1), d_freq[:, sel].mean(axis=1), mean_log,
                 mean_log**2, flat]  # fmt: skip
    return np.stack(rows, axis=1).astype(np.float32)


def texture_features(mean_counts: np.ndarray) -> np.ndarray:
    """Per band: time roughness, frequency roughness, std of the band level over the window,
    flatness, and the band's level relative to the window's mean band level."""
    stats = mean_counts.reshape(len(TEXTURE_BANDS), TEXTURE_STATS).astype(np.float64)
    level = stats[:, 2]
    spread = np.sqrt(np.maximum(stats[:, 3] - level**2, 0.0))
    relative = level - level.mean()
    return np.concatenate([stats[:, 0], stats[:, 1], spread, stats[:, 4], relative])


PEAK_SIZE = len(PEAK_BANDS) * 5 + len(PERIOD_LAG_EDGES) - 1
PHASE_SIZE = len(PHASE_BANDS) * len(PHASE_TOLERANCES)
TEXTURE_SIZE = len(TEXTURE_BANDS) * 5
_FP_BINS = int(FINGERPRINT_BAND[1] * FINE_NFFT / SAMPLE_RATE) - int(
    FINGERPRINT_BAND[0] * FINE_NFFT / SAMPLE_RATE
)
FINGERPRINT_SIZE = _FP_BINS // FINGERPRINT_POOL
PEAK_COLUMNS = slice(0, PEAK_SIZE)
PHASE_COLUMNS = slice(PEAK_SIZE, PEAK_SIZE + PHASE_SIZE)
TEXTURE_COLUMNS = slice(PHASE_COLUMNS.stop, PHASE_COLUMNS.stop + TEXTURE_SIZE)
FINGERPRINT_COLUMNS = slice(TEXTURE_COLUMNS.stop, TEXTURE_COLUMNS.stop + FINGERPRINT_SIZE)
FEATURE_SIZE = FINGERPRINT_COLUMNS.stop

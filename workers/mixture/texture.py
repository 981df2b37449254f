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
from scipy.ndimage import median_filter
from scipy.signal import stft

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
PEAK_FLOOR_DB = 60.0
_TINY = 1e-20


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
                peak_features(fine),
                phase_features(phase),
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
        phase_counts(_stft(signal, PHASE_NFFT, PHASE_HOP)),
        texture_counts(np.abs(short)),
        energy,
        int(np.asarray(mono).size),
    )


def residual_spectrum(power: np.ndarray) -> np.ndarray:
    """Log power (dB) of an averaged fine spectrum minus its running-median envelope."""
    level = 10.0 * np.log10(power + max(float(power.mean()), _TINY) * 1e-9)
    residual: np.ndarray = level - median_filter(level, size=ENVELOPE_BINS, mode="nearest")
    return residual


def fingerprint(power: np.ndarray) -> np.ndarray:
    """The residual over FINGERPRINT_BAND, max-pooled over FINGERPRINT_POOL bins: where a
    decoder puts its peaks (Afchar et al.'s fingerprint, position-bound)."""
    low, high = (int(f * FINE_NFFT / SAMPLE_RATE) for f in FINGERPRINT_BAND)
    band = residual_spectrum(power)[low:high]
    band = band[: band.size - band.size % FINGERPRINT_POOL]
    pooled: np.ndarray = np.clip(band.reshape(-1, FINGERPRINT_POOL).max(axis=1), -10.0, 20.0)
    return pooled


def peak_features(power: np.ndarray) -> np.ndarray:
    """Per-band peak statistics and periodicity of the residual of an averaged fine spectrum."""
    residual = residual_spectrum(power)
    freqs = np.arange(residual.size) * SAMPLE_RATE / FINE_NFFT
    out: list[float] = []
    for low, high in PEAK_BANDS:
        band = residual[(freqs >= low) & (freqs < high)]
        spread = 1.4826 * float(np.median(np.abs(band - np.median(band)))) + 1e-3
        out += [
            float(np.log(spread)),
            float(band.max()) / spread,
            float(np.percentile(band, 99.5)) / spread,
            float(np.mean(band > 4 * spread)),
            float(np.mean(band**3)) / spread**3,
        ]
    low, high = PERIOD_BAND
    band = np.clip(residual[(freqs >= low) & (freqs < high)], -6.0, 12.0)
    band = band - band.mean()
    corr = np.fft.irfft(np.abs(np.fft.rfft(band, n=2 * band.size)) ** 2)[: band.size]
    corr = corr / (corr[0] + _TINY)
    for a, b in zip(PERIOD_LAG_EDGES[:-1], PERIOD_LAG_EDGES[1:], strict=True):
        out.append(float(corr[a : max(b, a + 1)].max()))
    return np.asarray(out, dtype=np.float64)


def phase_counts(spec: np.ndarray) -> np.ndarray:
    """Per frame and band: weight of lobe-consistent peaks per tolerance, then of all peaks."""
    top = int(PHASE_BANDS[-1][1] * PHASE_NFFT / SAMPLE_RATE) + 2
    spec = spec[:, :top]
    bins = np.arange(top, dtype=np.float32)
    advance = (2 * np.pi * PHASE_HOP / PHASE_NFFT) * bins
    dphi = np.angle(spec[1:] * np.conj(spec[:-1])) - advance
    wrapped = np.mod(dphi + np.pi, 2 * np.pi) - np.pi
    estimate = bins + wrapped * (PHASE_NFFT / (2 * np.pi * PHASE_HOP))
    mag = np.abs(spec[1:])
    floor = mag.max(axis=1, keepdims=True) * 10 ** (-PEAK_FLOOR_DB / 20)
    inner = mag[:, 1:-1]
    peak = (inner > mag[:, :-2]) & (inner >= mag[:, 2:]) & (inner > floor)
    right = mag[:, 2:] >= mag[:, :-2]
    neighbour = np.where(right, estimate[:, 2:], estimate[:, :-2])
    error = np.abs(estimate[:, 1:-1] - neighbour)
    weight = np.where(peak, np.log1p(inner / (floor + _TINY)), 0.0).astype(np.float32)
    freqs = bins[1:-1] * SAMPLE_RATE / PHASE_NFFT
    rows = []
    for low, high in PHASE_BANDS:
        sel = (freqs >= low) & (freqs < high)
        w, e = weight[:, sel], error[:, sel]
        rows += [(w * (e < tol)).sum(axis=1) for tol in PHASE_TOLERANCES]
        rows.append(w.sum(axis=1))
    counts = np.stack(rows, axis=1).astype(np.float32)
    return np.concatenate([counts[:1], counts], axis=0)


def phase_features(summed: np.ndarray) -> np.ndarray:
    """Fraction of peak weight consistent at each tolerance, per band (summed counts in)."""
    per_band = len(PHASE_TOLERANCES) + 1
    out = []
    for band in range(len(PHASE_BANDS)):
        chunk = summed[band * per_band : (band + 1) * per_band]
        total = float(chunk[-1])
        out += [float(c) / total if total > 0 else 0.0 for c in chunk[:-1]]
    return np.asarray(out, dtype=np.float64)


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

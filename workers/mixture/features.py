"""Full-mix features of decoder artefacts: a fine spectral fingerprint and phase consistency.

Two families of evidence, both computed once per track and then averaged over any window:

- Upsampling layers of neural decoders (transposed convolutions, interpolation, sub-pixel)
  put narrow peaks at fixed frequencies into the long-term spectrum, spaced by the layers'
  input rates (Afchar et al., 2025). Music has partials too, but they move with the notes;
  a track-long average at ~5 Hz resolution keeps only what never moves. From the residual
  of the averaged log spectrum (minus its median-filtered envelope) we take per-band peak
  statistics and the residual's periodicity over frequency, which do not depend on where
  an architecture puts its peaks, so they carry to output rates never seen in training.
- Spectrogram inversion (Griffin-Lim, iSTFT heads) leaves the phase of a partial
  inconsistent across the bins of its main lobe: in a real recording every bin of a
  stationary partial reports the same instantaneous frequency, after phase reconstruction
  they disagree. We measure that disagreement at spectral peaks, per band.

Input everywhere: float32 mono (n,) at SAMPLE_RATE (44.1 kHz, the canonical rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import stft

SAMPLE_RATE = 44100
# Fine spectrum: 8192-point frames (5.4 Hz bins), half overlapping (frame_energy relies on it).
FINE_NFFT = 8192
FINE_HOP = 4096
# The envelope removed from the log spectrum: a running median over ~170 Hz.
ENVELOPE_BINS = 31
# Bands (Hz) for peak statistics of the residual spectrum.
PEAK_BANDS = (
    (500, 2000),
    (2000, 4000),
    (4000, 8000),
    (8000, 12000),
    (12000, 16000),
    (16000, 20000),
)
# Periodicity of the residual: lags in fine bins, pooled by max into log-spaced groups.
PERIOD_BAND = (2000, 16000)
PERIOD_LAG_EDGES = np.unique(np.geomspace(2, 600, 25).astype(int))
# The position-bound fingerprint (baseline only): the residual itself over this band.
FINGERPRINT_BAND = (4000, 16000)
FINGERPRINT_POOL = 4
# Phase consistency: a shorter STFT, where partials are resolved but frames are short.
PHASE_NFFT = 2048
PHASE_HOP = 512
PHASE_BANDS = ((0, 2000), (2000, 5000), (5000, 10000), (10000, 16000))
PHASE_TOLERANCES = (0.02, 0.05, 0.1, 0.2, 0.5)  # in bins
# The CNN baseline's input (Afchar et al., ICASSP 2025): log power of a short STFT over the
# whole band, a centred crop of PATCH_FRAMES frames (1.5 s).
PATCH_NFFT = 1024
PATCH_HOP = 512
PATCH_FRAMES = 128
PATCH_BINS = PATCH_NFFT // 2
# A peak must be within this many dB of its frame's loudest bin to count.
PEAK_FLOOR_DB = 60.0
_TINY = 1e-20


@dataclass(frozen=True)
class ArtefactGrid:
    """Where the residual-peak and phase-consistency statistics look: the sample rate, the
    fine and phase STFTs and the bands. The 44.1 kHz grid below is this module's; the
    16 kHz texture features (``workers.mixture.texture``) use the same statistics on theirs."""

    rate: int
    fine_nfft: int
    envelope_bins: int
    peak_bands: tuple[tuple[int, int], ...]
    period_band: tuple[int, int]
    lag_edges: np.ndarray
    phase_nfft: int
    phase_hop: int
    phase_bands: tuple[tuple[int, int], ...]
    tolerances: tuple[float, ...] = PHASE_TOLERANCES


GRID = ArtefactGrid(
    SAMPLE_RATE, FINE_NFFT, ENVELOPE_BINS, PEAK_BANDS, PERIOD_BAND, PERIOD_LAG_EDGES,
    PHASE_NFFT, PHASE_HOP, PHASE_BANDS,
)  # fmt: skip


@dataclass(frozen=True)
class TrackFrames:
    """What features are averaged from: per-frame fine power and per-frame phase counts.

    ``power``: (frames, FINE_NFFT // 2 + 1) float32, frame f centred at f * FINE_HOP.
    ``phase``: (frames, len(PHASE_BANDS) * (len(PHASE_TOLERANCES) + 1)) float32, frame f at
    f * PHASE_HOP: per band, the weight of consistent peaks at each tolerance, then the
    weight of all peaks (the denominator).
    ``energy``: (frames,) float64, the mean square of the samples of fine frame f.
    """

    power: np.ndarray
    phase: np.ndarray
    energy: np.ndarray
    n_samples: int

    def level_db(self, start_s: float, end_s: float) -> float:
        """Mean power of the audio between two times, in dB relative to full scale (a
        full-scale square wave is 0 dB; digital silence is -inf)."""
        return _decibels(float(_rows(self.energy, start_s, end_s, FINE_HOP).mean()))

    def window(self, start_s: float, end_s: float) -> np.ndarray:
        """Feature vector (FEATURE_SIZE,) float32 of the audio between two times (seconds)."""
        fine = _rows(self.power, start_s, end_s, FINE_HOP)
        phase = _rows(self.phase, start_s, end_s, PHASE_HOP)
        return np.concatenate(
            [spectral_features(fine.mean(axis=0)), phase_features(phase.sum(axis=0))]
        ).astype(np.float32)

    def fingerprint(self, start_s: float, end_s: float) -> np.ndarray:
        """The baseline's position-bound fingerprint of the same span (``fingerprint``)."""
        return fingerprint(_rows(self.power, start_s, end_s, FINE_HOP).mean(axis=0))


def level_db(mono: np.ndarray) -> float:
    """Mean power of a mono signal in dB full scale, as ``TrackFrames.level_db``."""
    return _decibels(float(np.mean(np.asarray(mono, dtype=np.float64) ** 2)))


def _decibels(energy: float) -> float:
    return 10.0 * float(np.log10(energy)) if energy > 0 else float("-inf")


def _rows(frames: np.ndarray, start_s: float, end_s: float, hop: int) -> np.ndarray:
    first = int(np.floor(start_s * SAMPLE_RATE / hop))
    last = int(np.ceil(end_s * SAMPLE_RATE / hop))
    first = min(max(first, 0), len(frames) - 1)
    return frames[first : max(last, first + 1)]


def track_frames(mono: np.ndarray) -> TrackFrames:
    """Frame statistics of a whole track: mono float32 (n,) at SAMPLE_RATE."""
    signal = np.asarray(mono, dtype=np.float32)
    if signal.size < FINE_NFFT:
        signal = np.pad(signal, (0, FINE_NFFT - signal.size))
    return TrackFrames(
        fine_power(signal), phase_counts(signal), frame_energy(signal), int(np.asarray(mono).size)
    )


def frame_energy(signal: np.ndarray) -> np.ndarray:
    """Mean square (frames,) float64 of the samples under each fine frame (as ``fine_power``)."""
    # A fine frame is two hops long: sum squares per hop block, then add neighbouring blocks
    # (no float64 copy of the whole track).
    blocks = signal.size // FINE_HOP
    squares = np.empty(blocks, dtype=np.float64)
    for first in range(0, blocks, 4096):
        last = min(first + 4096, blocks)
        chunk = signal[first * FINE_HOP : last * FINE_HOP].astype(np.float64)
        squares[first:last] = (chunk.reshape(-1, FINE_HOP) ** 2).sum(axis=1)
    energy: np.ndarray = (squares[:-1] + squares[1:]) / FINE_NFFT
    return energy


def fine_power(signal: np.ndarray, block_frames: int = 256) -> np.ndarray:
    """Hann-windowed power spectra (frames, FINE_NFFT // 2 + 1) float32, computed
    ``block_frames`` frames at a time so that no whole-track complex spectrum exists."""
    frames = _frame_count(signal.size, FINE_NFFT, FINE_HOP)
    power = np.empty((frames, FINE_NFFT // 2 + 1), dtype=np.float32)
    for first in range(0, frames, block_frames):
        stop = min(frames, first + block_frames)
        spec = _stft_frames(signal, FINE_NFFT, FINE_HOP, first, stop)
        power[first:stop] = (np.abs(spec.T) ** 2).astype(np.float32)
    return power


def _frame_count(n_samples: int, nfft: int, hop: int) -> int:
    """Frames of ``scipy.signal.stft(..., boundary=None, padded=False)``."""
    return 0 if n_samples < nfft else 1 + (n_samples - nfft) // hop


def _stft_frames(signal: np.ndarray, nfft: int, hop: int, first: int, stop: int) -> np.ndarray:
    """Frames [first, stop) of ``scipy.signal.stft`` (Hann, no boundary, no padding) of the
    whole ``signal``, (bins, frames): each frame sees only its own samples, so a slice of
    the signal gives exactly those frames."""
    piece = signal[first * hop : (stop - 1) * hop + nfft]
    _, _, spec = stft(piece, nperseg=nfft, noverlap=nfft - hop, boundary=None, padded=False)
    return np.asarray(spec)


def residual_spectrum(power: np.ndarray, envelope_bins: int = ENVELOPE_BINS) -> np.ndarray:
    """Log power (dB) minus its running-median envelope: narrow peaks stand out."""
    level = 10.0 * np.log10(power + max(float(power.mean()), _TINY) * 1e-9)
    residual: np.ndarray = level - median_filter(level, size=envelope_bins, mode="nearest")
    return residual


def spectral_features(power: np.ndarray, grid: ArtefactGrid = GRID) -> np.ndarray:
    """Peak statistics per band and periodicity of the residual of an averaged spectrum."""
    residual = residual_spectrum(power, grid.envelope_bins)
    freqs = np.arange(residual.size) * grid.rate / grid.fine_nfft
    out: list[float] = []
    for low, high in grid.peak_bands:
        band = residual[(freqs >= low) & (freqs < high)]
        spread = 1.4826 * float(np.median(np.abs(band - np.median(band)))) + 1e-3
        out += [
            float(np.log(spread)),
            float(band.max()) / spread,
            float(np.percentile(band, 99.5)) / spread,
            float(np.mean(band > 4 * spread)),
            float(np.mean(band**3)) / spread**3,
        ]
    low, high = grid.period_band
    band = np.clip(residual[(freqs >= low) & (freqs < high)], -6.0, 12.0)
    band = band - band.mean()
    spectrum = np.fft.rfft(band, n=2 * band.size)
    corr = np.fft.irfft(np.abs(spectrum) ** 2)[: band.size]
    corr = corr / (corr[0] + _TINY)
    for a, b in zip(grid.lag_edges[:-1], grid.lag_edges[1:], strict=True):
        out.append(float(corr[a : max(b, a + 1)].max()))
    return np.asarray(out, dtype=np.float64)


def fingerprint(power: np.ndarray) -> np.ndarray:
    """The raw residual spectrum at FINGERPRINT_BAND, max-pooled over FINGERPRINT_POOL bins:
    the position-bound baseline (a linear model on it learns where a family puts its peaks)."""
    residual = residual_spectrum(power)
    low, high = (int(f * FINE_NFFT / SAMPLE_RATE) for f in FINGERPRINT_BAND)
    band = residual[low:high]
    band = band[: band.size - band.size % FINGERPRINT_POOL]
    pooled: np.ndarray = band.reshape(-1, FINGERPRINT_POOL).max(axis=1).astype(np.float32)
    return pooled


def spectrogram_patch(mono: np.ndarray) -> np.ndarray:
    """Log power (dB) of the centre PATCH_FRAMES frames, (PATCH_BINS, PATCH_FRAMES) float16;
    a shorter signal is zero-padded at the end."""
    need = (PATCH_FRAMES - 1) * PATCH_HOP + PATCH_NFFT
    signal = np.asarray(mono, dtype=np.float32)
    start = max(0, (signal.size - need) // 2)
    signal = np.pad(signal[start : start + need], (0, max(0, need - signal.size)))
    _, _, spec = stft(
        signal, nperseg=PATCH_NFFT, noverlap=PATCH_NFFT - PATCH_HOP, boundary=None, padded=False
    )
    power = np.abs(spec[:PATCH_BINS, :PATCH_FRAMES]) ** 2
    level: np.ndarray = (10.0 * np.log10(power + 1e-12)).astype(np.float16)
    return level


def phase_counts(
    signal: np.ndarray, grid: ArtefactGrid = GRID, block_frames: int = 2048
) -> np.ndarray:
    """Per phase frame and band: weight of lobe-consistent peaks per tolerance, and of all.

    Computed ``block_frames`` frames at a time (each block with the frame before it, whose
    phase the first frame's advance needs): the same counts as one whole-track pass, in
    memory that does not grow with the track."""
    signal = np.asarray(signal, dtype=np.float32)
    frames = _frame_count(signal.size, grid.phase_nfft, grid.phase_hop)
    blocks = []
    for first in range(0, max(frames - 1, 0), block_frames):
        stop = min(frames, first + 1 + block_frames)
        spec = _stft_frames(signal, grid.phase_nfft, grid.phase_hop, first, stop)
        blocks.append(_phase_block(spec, grid))
    counts = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, _phase_width(grid)))
    counts = counts.astype(np.float32)
    return np.concatenate([counts[:1], counts], axis=0)  # frame 0 has no predecessor


def _phase_width(grid: ArtefactGrid) -> int:
    return len(grid.phase_bands) * (len(grid.tolerances) + 1)


def _phase_block(spec: np.ndarray, grid: ArtefactGrid) -> np.ndarray:
    """Counts (frames - 1, bands x (tolerances + 1)) of consecutive frames ``spec`` (bins,
    frames): each frame against the one before it."""
    top = int(grid.phase_bands[-1][1] * grid.phase_nfft / grid.rate) + 2
    spec = spec[:top].T.astype(np.complex64)  # (frames, bins below the last band's edge)
    bins = np.arange(top, dtype=np.float32)
    advance = (2 * np.pi * grid.phase_hop / grid.phase_nfft) * bins
    dphi = np.angle(spec[1:] * np.conj(spec[:-1])) - advance
    wrapped = np.mod(dphi + np.pi, 2 * np.pi) - np.pi
    estimate = bins + wrapped * (grid.phase_nfft / (2 * np.pi * grid.phase_hop))  # IF, in bins
    mag = np.abs(spec[1:])
    floor = mag.max(axis=1, keepdims=True) * 10 ** (-PEAK_FLOOR_DB / 20)
    inner = mag[:, 1:-1]
    peak = (inner > mag[:, :-2]) & (inner >= mag[:, 2:]) & (inner > floor)
    # The louder neighbour lies inside the same main lobe: compare their estimates.
    right = mag[:, 2:] >= mag[:, :-2]
    neighbour = np.where(right, estimate[:, 2:], estimate[:, :-2])
    error = np.abs(estimate[:, 1:-1] - neighbour)
    weight = np.where(peak, np.log1p(inner / (floor + _TINY)), 0.0).astype(np.float32)
    freqs = bins[1:-1] * grid.rate / grid.phase_nfft
    rows = []
    for low, high in grid.phase_bands:
        sel = (freqs >= low) & (freqs < high)
        w, e = weight[:, sel], error[:, sel]
        rows += [(w * (e < tol)).sum(axis=1) for tol in grid.tolerances]
        rows.append(w.sum(axis=1))
    return np.stack(rows, axis=1)


def phase_features(summed: np.ndarray, grid: ArtefactGrid = GRID) -> np.ndarray:
    """Fraction of peak weight consistent at each tolerance, per band (summed counts in)."""
    per_band = len(grid.tolerances) + 1
    out = []
    for band in range(len(grid.phase_bands)):
        chunk = summed[band * per_band : (band + 1) * per_band]
        total = float(chunk[-1])
        out += [float(c) / total if total > 0 else 0.0 for c in chunk[:-1]]
    return np.asarray(out, dtype=np.float64)


FEATURE_SIZE = (
    len(PEAK_BANDS) * 5 + len(PERIOD_LAG_EDGES) - 1 + len(PHASE_BANDS) * len(PHASE_TOLERANCES)
)
SPECTRAL_COLUMNS = slice(0, len(PEAK_BANDS) * 5 + len(PERIOD_LAG_EDGES) - 1)
PHASE_COLUMNS = slice(SPECTRAL_COLUMNS.stop, FEATURE_SIZE)

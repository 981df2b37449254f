"""Per-frame features of a full mix for the vocal-activity classifier (0.1 s frames).

Computed from the mix alone, so they do not depend on the separator. At 16 kHz, per 10 ms
sub-frame (1024-point window): a 48-band log mel spectrum of the mid channel (L + R) / 2,
and the same of the side channel (L - R) / 2. Per 0.1 s frame (ten sub-frames):

- ``mel``: the mean log mel of the mid (timbre, loudness per band);
- ``wobble``: its standard deviation over the ten sub-frames (vibrato, syllables and
  consonants move a voice's spectrum faster than most sustained accompaniment);
- ``centre``: log mid minus log side per band (lead vocals are mixed to the centre; a mono
  file has no side and gets a constant, removed by the per-track normalisation below);
- ``flux``: mean positive spectral flux (onsets).

Every column has its per-track median removed (a track's mastering and instrumentation
shift whole bands), then each frame is joined by the mean and the standard deviation of
its ``CONTEXT_FRAMES`` neighbourhood. The spectra are computed in blocks of
``BLOCK_FRAMES`` frames, so a long track needs no whole-track spectrogram.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.ndimage import uniform_filter1d

SAMPLE_RATE = 16000
N_FFT = 1024
SUB_HOP = 160
SUBFRAMES = 10  # sub-frames per 0.1 s frame
FRAME_SAMPLES = SUB_HOP * SUBFRAMES
N_MELS = 48
MEL_RANGE_HZ = (60.0, 8000.0)
CONTEXT_FRAMES = 5
BLOCK_FRAMES = 600  # one minute of frames per spectrum block
FLOOR = 1e-10
PER_FRAME = 3 * N_MELS + 1
FEATURE_SIZE = 3 * PER_FRAME


def frame_features(mixture: np.ndarray) -> np.ndarray:
    """(channels, n) float32 at ``SAMPLE_RATE`` -> (ceil(n / FRAME_SAMPLES), FEATURE_SIZE) float32.

    A mono input (one channel) counts as centred. Frames past the end are zero-padded.
    """
    mixture = np.atleast_2d(np.asarray(mixture, dtype=np.float32))
    frames = -(-mixture.shape[1] // FRAME_SAMPLES)
    if frames == 0:
        return np.zeros((0, FEATURE_SIZE), dtype=np.float32)
    mid = mixture.mean(axis=0)
    side = 0.5 * (mixture[0] - mixture[-1]) if mixture.shape[0] > 1 else np.zeros_like(mid)
    per_frame = np.concatenate(
        [
            _frame_statistics(mid, side, first, min(frames, first + BLOCK_FRAMES))
            for first in range(0, frames, BLOCK_FRAMES)
        ]
    )
    per_frame -= np.median(per_frame, axis=0)
    return add_context(per_frame, CONTEXT_FRAMES).astype(np.float32)


def add_context(per_frame: np.ndarray, width: int) -> np.ndarray:
    """(frames, d) -> (frames, 3 d): each row, the mean and the standard deviation of the
    ``width`` rows centred on it (edges repeat the first and last rows)."""
    x = per_frame.astype(np.float64)
    mean = uniform_filter1d(x, width, axis=0, mode="nearest")
    square = uniform_filter1d(x * x, width, axis=0, mode="nearest")
    return np.concatenate([x, mean, np.sqrt(np.maximum(square - mean * mean, 0.0))], axis=1)


def _frame_statistics(mid: np.ndarray, side: np.ndarray, first: int, stop: int) -> np.ndarray:
    """(stop - first, PER_FRAME) float64: mel, wobble, centre and flux of frames [first, stop)."""
    log_mid = _log_mel(mid, first * SUBFRAMES, stop * SUBFRAMES + 1)
    log_side = _log_mel(side, first * SUBFRAMES, stop * SUBFRAMES)
    flux = np.maximum(np.diff(log_mid, axis=0), 0.0).mean(axis=1, keepdims=True)
    log_mid = log_mid[:-1]
    count = stop - first

    def per_frame(values: np.ndarray) -> np.ndarray:
        return values.reshape(count, SUBFRAMES, -1)

    return np.concatenate(
        [
            per_frame(log_mid).mean(axis=1),
            per_frame(log_mid).std(axis=1),
            per_frame(log_mid - log_side).mean(axis=1),
            per_frame(flux).mean(axis=1),
        ],
        axis=1,
    )


def _log_mel(signal: np.ndarray, first: int, stop: int) -> np.ndarray:
    """(stop - first, N_MELS) log10 mel power of sub-frames [first, stop), sub-frame t
    centred on sample t * SUB_HOP (zero outside the signal)."""
    import librosa

    start = first * SUB_HOP - N_FFT // 2
    end = (stop - 1) * SUB_HOP + N_FFT // 2
    segment = np.zeros(end - start, dtype=np.float32)
    lo, hi = max(start, 0), min(end, signal.size)
    if hi > lo:
        segment[lo - start : hi - start] = signal[lo:hi]
    spectrum = librosa.stft(segment, n_fft=N_FFT, hop_length=SUB_HOP, center=False)
    power = np.square(np.abs(spectrum), dtype=np.float64)
    log_power: np.ndarray = np.log10(_mel_basis() @ power + FLOOR)
    return log_power.T


@cache
def _mel_basis() -> np.ndarray:
    import librosa

    low, high = MEL_RANGE_HZ
    basis: np.ndarray = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=low, fmax=high
    ).astype(np.float64)
    return basis

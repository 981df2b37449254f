"""Windowing of a whole track for window-level detectors, and the track-level aggregate."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Fraction of a window's span that must hold vocals for the window to be scored.
MIN_VOCAL_FRACTION = 0.5
# The track score averages the top quartile of window scores, at most TOP_SPAN_SECONDS' worth.
TOP_FRACTION = 0.25
TOP_SPAN_SECONDS = 10.0
# The vocal detectors' window (AASIST family: 64,600 samples at 16 kHz). Whether a track has
# vocals is read on windows of this length, so it reads the same with the vocal detector off.
VOCAL_WINDOW_SECONDS = 64_600 / 16_000


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start sample of every window covering a signal of ``n_samples``, shape (k,) int64.

    Windows start every ``hop`` samples; when the grid leaves a tail uncovered, one more
    window is aligned to the end of the signal, so every sample lies inside some window
    and the last window ends exactly at ``n_samples``. A signal no longer than a window
    gets a single window at 0 (see ``extract_windows`` for the padding). An empty signal
    gets none.
    """
    if window <= 0 or hop <= 0:
        raise ValueError(f"window and hop must be positive, got {window} and {hop}")
    if n_samples <= 0:
        return np.zeros(0, dtype=np.int64)
    if n_samples <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, np.int64(n_samples - window))
    return starts


def repeat_pad(signal: np.ndarray, length: int) -> np.ndarray:
    """Tile a 1-D signal until it is ``length`` samples long, as AASIST's data loader does.

    Repetition rather than zeros keeps the input within what the detectors saw in
    training (ASVspoof utterances shorter than 4 s are repeat-padded upstream).
    """
    if signal.size == 0:
        raise ValueError("cannot pad an empty signal")
    repeats = math.ceil(length / signal.size)
    return np.tile(signal, repeats)[:length]


def extract_windows(signal: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Cut windows from a mono signal (n,): returns float32 (len(starts), window).

    A signal shorter than ``window`` is repeat-padded (``repeat_pad``) to one window.
    """
    mono = np.asarray(signal, dtype=np.float32)
    if mono.size < window:
        mono = repeat_pad(mono, window)
    out = np.empty((len(starts), window), dtype=np.float32)
    for row, start in enumerate(starts):
        out[row] = mono[int(start) : int(start) + window]
    return out


def window_bounds_seconds(
    starts: np.ndarray, window: int, n_samples: int, sample_rate: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(starts, ends) in seconds of each window over the real signal (padding excluded)."""
    ends = np.minimum(starts + window, n_samples)
    return (
        tuple(float(s) / sample_rate for s in starts),
        tuple(float(e) / sample_rate for e in ends),
    )


def aggregate_track_score(
    scores: Sequence[float | None], hop_seconds: float | None = None
) -> float | None:
    """Track score: the mean of the highest window scores, robust to one noisy window.

    Averaged: the top quartile of the scored windows (at least one), capped at the windows
    that start within TOP_SPAN_SECONDS of track time (10 windows at a 1 s hop) when
    ``hop_seconds`` is given. A plain mean lets a 20-second cloned verse vanish among three
    minutes of real vocals; so does an uncapped quartile (in a 4-minute song a 20 s verse
    is ~8 % of the windows, a third of the quartile). The maximum would let one window
    decide. Unscored windows (None) are ignored; with none scored the result is None.
    """
    values = np.sort(np.array([s for s in scores if s is not None], dtype=np.float64))
    if values.size == 0:
        return None
    top = max(1, math.ceil(values.size * TOP_FRACTION))
    if hop_seconds is not None:
        top = min(top, max(1, round(TOP_SPAN_SECONDS / hop_seconds)))
    return float(values[-top:].mean())


def timeline_at_hop(
    starts_seconds: Sequence[float],
    ends_seconds: Sequence[float],
    scores: Sequence[float | None],
    duration_seconds: float,
    hop_seconds: float,
) -> list[float | None]:
    """Scores on a regular grid: frame j covers [j*hop, (j+1)*hop) of the track (seconds).

    A frame's value is the mean score of the scored windows that contain the frame's
    centre (windows overlap, so most frames sit in several), or None when no scored
    window does (no vocals there). Length: ceil(duration / hop).
    """
    n_frames = max(0, math.ceil(round(duration_seconds / hop_seconds, 6)))
    frame_starts = np.arange(n_frames) * hop_seconds
    # The last frame may be cut short by the end of the track: use its real centre.
    centres = (frame_starts + np.minimum(frame_starts + hop_seconds, duration_seconds)) / 2
    total = np.zeros(n_frames)
    count = np.zeros(n_frames, dtype=np.int64)
    for start, end, score in zip(starts_seconds, ends_seconds, scores, strict=True):
        if score is None:
            continue
        inside = (centres >= start) & (centres < end)
        total[inside] += score
        count[inside] += 1
    return [float(t / c) if c else None for t, c in zip(total, count, strict=True)]


def log_odds(probability: float) -> float:
    """logit(p), clipped so that 0 and 1 stay finite (|logit| <= ~36.7)."""
    p = min(max(probability, 1e-16), 1.0 - 1e-16)
    return math.log(p / (1.0 - p))

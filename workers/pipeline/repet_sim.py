"""REPET-SIM: the weight-free vocal separator used when no neural separator is installed.

How it works (Rafii & Pardo, "Music/Voice Separation Using the Similarity Matrix",
ISMIR 2012; the same recipe as librosa's vocal separation example):

1. Short-time Fourier transform of each channel (4096-point window, 1024 hop at
   44.1 kHz: 93 ms windows every 23 ms).
2. Accompaniment repeats (riffs, chords, drum patterns recur across a song) while a lead
   voice rarely repeats exactly. For every frame we find its ``neighbours`` most similar
   frames elsewhere in the track (cosine similarity of a 128-band mel spectrum of the mono
   mix, ignoring frames closer than ``min_distance_seconds`` so a sustained note does not
   match itself), via ``librosa.segment.recurrence_matrix``.
3. ``librosa.decompose.nn_filter`` replaces each magnitude frame by the median of its
   neighbours' magnitudes: a repeating-background estimate. It is capped at the mixture.
4. A Wiener-like soft mask (``librosa.util.softmask``, power 2) gives the vocals the
   bins where the mixture exceeds the background by ``vocal_margin`` times the background.
5. Vocals are the inverse STFT of the masked mixture; accompaniment is the mixture minus
   the vocals, so ``vocals + accompaniment == mixture`` up to float32 rounding.

Quality is well below a trained separator: non-repeating instruments (solos, fills) leak
into the vocals. Memory for a 10-minute stereo track is about 1 GB (one channel's
complex spectrogram and three magnitude arrays at a time).
"""

from __future__ import annotations

import numpy as np

from workers.pipeline.types import ModelInfo

N_FFT = 4096
HOP = 1024


class RepetSimSeparator:
    """Weight-free separator: (2, n) float32 at 44.1 kHz in, vocals and accompaniment out."""

    info = ModelInfo(name="repet-sim", sha256=None)
    sample_rate = 44100

    def __init__(
        self,
        neighbours: int = 20,
        min_distance_seconds: float = 2.0,
        vocal_margin: float = 2.0,
    ) -> None:
        # 20 neighbours is REPET-SIM's order of magnitude (the paper uses up to 20 repeats):
        # enough for a stable median, and the median cost grows linearly with it.
        self.neighbours = neighbours
        self.min_distance_seconds = min_distance_seconds
        self.vocal_margin = vocal_margin

    def separate(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split ``mixture`` (channels, n) float32 into (vocals, accompaniment), same shape."""
        mixture = np.asarray(mixture, dtype=np.float32)
        n = mixture.shape[-1]
        if n < N_FFT:
            # Too short for one analysis window: nothing repeats, call it all accompaniment.
            return np.zeros_like(mixture), mixture.copy()
        rec = self._recurrence(mixture)
        vocals = np.stack([self._vocal_channel(channel, rec) for channel in mixture])
        return vocals, mixture - vocals

    def _recurrence(self, mixture: np.ndarray):  # -> scipy.sparse matrix (frames, frames)
        import librosa

        mono = mixture.mean(axis=0)
        mel = librosa.feature.melspectrogram(
            y=mono, sr=self.sample_rate, n_fft=N_FFT, hop_length=HOP, n_mels=128, power=1.0
        )
        frames = mel.shape[1]
        width = max(1, int(round(self.min_distance_seconds * self.sample_rate / HOP)))
        # recurrence_matrix needs at least one candidate frame outside the exclusion band.
        width = min(width, max(1, (frames - 1) // 2))
        k = max(1, min(self.neighbours, frames - 2 * width))
        return librosa.segment.recurrence_matrix(
            mel, k=k, width=width, metric="cosine", sparse=True, mode="connectivity"
        )

    def _vocal_channel(self, channel: np.ndarray, rec) -> np.ndarray:
        import librosa

        spec = librosa.stft(channel, n_fft=N_FFT, hop_length=HOP)
        magnitude = np.abs(spec)
        background = librosa.decompose.nn_filter(magnitude, rec=rec, aggregate=np.median)
        np.minimum(magnitude, background, out=background)
        foreground = magnitude - background
        del magnitude
        mask = librosa.util.softmask(foreground, self.vocal_margin * background, power=2)
        del foreground, background
        spec *= mask
        vocals = librosa.istft(spec, hop_length=HOP, n_fft=N_FFT, length=len(channel))
        return vocals.astype(np.float32, copy=False)

"""Fixtures for the detector zoo: real speech, espeak-ng speech and vocoded speech windows.

Every set is (3, 64600) float32 mono at 16 kHz, the longest window any detector takes;
a detector with a shorter window reads the first ``detector.window`` samples of each row.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from tests.conftest import SPEECH
from workers.compute.audio import decode_file
from workers.networks.registry import load_model

SAMPLE_RATE = 16000
LONGEST_WINDOW = 64600
SENTENCES = (
    "The quick brown fox jumps over the lazy dog, then rests beside the quiet river bank.",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
    "Please call Stella and ask her to bring these things with her from the store today.",
)


def fit_window(samples: np.ndarray, length: int = LONGEST_WINDOW) -> np.ndarray:
    """First ``length`` samples; a shorter clip is repeated first, as the upstream loaders do."""
    repeats = -(-length // len(samples))
    return np.tile(samples, repeats)[:length].astype(np.float32)


def griffin_lim(window: np.ndarray, n_iter: int) -> np.ndarray:
    """Re-synthesise from the STFT magnitude alone; fewer iterations leave harsher phase."""
    magnitude = np.abs(librosa.stft(window, n_fft=1024, hop_length=256))
    audio = librosa.griffinlim(
        magnitude, n_iter=n_iter, hop_length=256, n_fft=1024, random_state=0, length=len(window)
    )
    return audio.astype(np.float32)


@pytest.fixture(scope="session")
def real_speech_windows(audio_dir: Path) -> np.ndarray:
    """The opening window of each LibriSpeech recording (read speech, three speakers)."""
    clips = [decode_file(audio_dir / name, SAMPLE_RATE, channels=1)[0] for name in SPEECH]
    return np.stack([fit_window(clip) for clip in clips])


@pytest.fixture(scope="session")
def espeak_windows(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Formant-synthesised speech (espeak-ng), one sentence per window."""
    folder = tmp_path_factory.mktemp("espeak")
    clips = []
    for i, sentence in enumerate(SENTENCES):
        path = folder / f"sentence{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), sentence], check=True)
        clips.append(decode_file(path, SAMPLE_RATE, channels=1)[0])
    return np.stack([fit_window(clip) for clip in clips])


@pytest.fixture(scope="session")
def griffin_lim_windows(real_speech_windows: np.ndarray) -> np.ndarray:
    """The real windows re-synthesised by a Griffin-Lim vocoder (32 iterations)."""
    return np.stack([griffin_lim(window, n_iter=32) for window in real_speech_windows])


@pytest.fixture(scope="session")
def crude_vocoder_windows(real_speech_windows: np.ndarray) -> np.ndarray:
    """The real windows through a 2-iteration Griffin-Lim: strong phase artefacts."""
    return np.stack([griffin_lim(window, n_iter=2) for window in real_speech_windows])


@pytest.fixture(scope="session")
def p_synthetic(weights_dir: Path) -> Callable[[str, np.ndarray], torch.Tensor]:
    """Score a (N, >= window) set with detector ``name``: (N,) P(synthetic), memoised."""
    memo: dict[tuple[str, int], torch.Tensor] = {}

    def score(name: str, windows: np.ndarray) -> torch.Tensor:
        key = (name, id(windows))  # the sets are session fixtures: ids stay unique
        if key not in memo:
            detector = load_model("vocal-detector", name, weights_dir)
            memo[key] = detector.score_batch(torch.from_numpy(windows[:, : detector.window]))
        return memo[key]

    return score

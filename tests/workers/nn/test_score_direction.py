"""Which output means synthetic, established on data and pinned here.

Real: the opening 4 s of three LibriSpeech recordings. Synthetic: espeak-ng sentences, and
the same real windows re-synthesised by Griffin-Lim from their STFT magnitude (32
iterations, and a crude 2-iteration version with strong phase artefacts).

Measured when pinned (mean P(synthetic); 10 real windows of the three files, 3 espeak):
  aasist     real 0.31  espeak 1.00  Griffin-Lim-32 0.58  Griffin-Lim-2 1.00
  aasist-l   real 0.37  espeak 1.00  Griffin-Lim-32 0.81  Griffin-Lim-2 1.00
  rawgat-st  real 0.44  espeak 1.00  Griffin-Lim-32 0.85  Griffin-Lim-2 1.00
The ASVspoof models flag every espeak window, and score every vocoded window at least as
high as the real window it came from, with softmax class 0 as the spoof class.

The CtrSVDD baselines were trained on singing and do not separate speech this way: every
speech window, real or synthetic, sits far on the bona fide side (P < 0.1); espeak scores
slightly *lower* than real speech (svdd-raw 0.044 vs 0.058, svdd-lfcc 0.021 vs 0.027) and
Griffin-Lim-32 about the same (0.059, 0.031). The crude vocoder does move them, window by
window, towards synthetic (svdd-raw logit -2.85 -> -0.25, svdd-lfcc -3.62 -> -3.24, all
10 windows higher), which is what pins their direction: the logit's sigmoid is P(spoof),
as their training labels (spoof = 1) imply.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

SPEECH_DETECTORS = ["aasist", "aasist-l", "rawgat-st"]
SINGING_DETECTORS = ["svdd-raw", "svdd-lfcc"]

Scorer = Callable[[str, np.ndarray], torch.Tensor]


@pytest.mark.parametrize("name", SPEECH_DETECTORS)
def test_espeak_scores_more_synthetic_than_real_speech(
    name: str, p_synthetic: Scorer, real_speech_windows: np.ndarray, espeak_windows: np.ndarray
) -> None:
    real = p_synthetic(name, real_speech_windows)
    synthetic = p_synthetic(name, espeak_windows)
    assert synthetic.mean() > real.mean() + 0.5


@pytest.mark.parametrize("name", SPEECH_DETECTORS)
def test_griffin_lim_scores_more_synthetic_than_the_speech_it_came_from(
    name: str, p_synthetic: Scorer, real_speech_windows: np.ndarray,
    griffin_lim_windows: np.ndarray,
) -> None:
    real = p_synthetic(name, real_speech_windows)
    vocoded = p_synthetic(name, griffin_lim_windows)
    assert vocoded.mean() > real.mean()


@pytest.mark.parametrize("name", SINGING_DETECTORS)
def test_crude_vocoder_scores_more_synthetic_than_the_speech_it_came_from(
    name: str, p_synthetic: Scorer, real_speech_windows: np.ndarray,
    crude_vocoder_windows: np.ndarray,
) -> None:
    """The only speech contrast these singing models show (see the module docstring)."""
    real = p_synthetic(name, real_speech_windows)
    vocoded = p_synthetic(name, crude_vocoder_windows)
    assert vocoded.mean() > real.mean()

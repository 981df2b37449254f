"""Which output means synthetic, established on data and pinned here.

Real: the opening 4 s of three LibriSpeech recordings. Synthetic: espeak-ng sentences, and
the same real windows re-synthesised by Griffin-Lim from their STFT magnitude (32
iterations, and a crude 2-iteration version with strong phase artefacts).

Measured when pinned: mean P(synthetic) on the windows these fixtures make (3 each),
and in brackets on all ten 4 s windows of the three recordings (Griffin-Lim run per file):
             real           espeak        Griffin-Lim-32  Griffin-Lim-2
  aasist     0.000 (0.31)   1.00 (1.00)   0.33 (0.58)     1.00 (1.00)
  aasist-l   0.017 (0.37)   1.00 (1.00)   0.62 (0.81)     1.00 (1.00)
  rawgat-st  0.004 (0.44)   1.00 (1.00)   0.75 (0.85)     1.00 (1.00)
  svdd-raw   0.069 (0.058)  0.043 (0.044) 0.095 (0.059)   0.143 (0.47)
  svdd-lfcc  0.030 (0.027)  0.021 (0.021) 0.030 (0.031)   0.044 (0.042)
The ASVspoof models put every espeak window at P = 1.00 with softmax class 0 as the spoof
class (the other class gives the mirror image), and on all ten windows score the vocoded
window at least as high as the real one it came from.

The CtrSVDD baselines were trained on singing and do not separate speech this way: every
real, espeak and Griffin-Lim-32 window sits on the bona fide side (P < 0.2); espeak scores
slightly *lower* than real speech and Griffin-Lim-32 about the same. Only the crude vocoder
moves them towards synthetic (raw logit mean -2.85 -> -0.25 and LFCC -3.62 -> -3.24 over
the ten windows, every window higher); that contrast pins their direction, and agrees with
their training labels (BCE logit, spoof = 1). Do not read their speech scores as evidence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow  # real pretrained models or whole processes

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
    name: str,
    p_synthetic: Scorer,
    real_speech_windows: np.ndarray,
    griffin_lim_windows: np.ndarray,
) -> None:
    real = p_synthetic(name, real_speech_windows)
    vocoded = p_synthetic(name, griffin_lim_windows)
    assert vocoded.mean() > real.mean()


@pytest.mark.parametrize("name", SINGING_DETECTORS)
def test_crude_vocoder_scores_more_synthetic_than_the_speech_it_came_from(
    name: str,
    p_synthetic: Scorer,
    real_speech_windows: np.ndarray,
    crude_vocoder_windows: np.ndarray,
) -> None:
    """The only speech contrast these singing models show (see the module docstring)."""
    real = p_synthetic(name, real_speech_windows)
    vocoded = p_synthetic(name, crude_vocoder_windows)
    assert vocoded.mean() > real.mean()

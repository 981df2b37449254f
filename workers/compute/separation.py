"""Separation: vocals and accompaniment of a track, and where the vocals are active.

The separator itself comes from the model registry (workers.networks.separators chooses it,
with its weight-free fallback); this module only runs it and measures vocal activity: the
vocal-to-mix level of the stem always, and which frames are active from that level by the
energy rule, joined with the vocal-activity classifier of the mix when one is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workers.compute.audio import resample
from workers.compute.vocal_activity import VocalActivity, measure_activity
from workers.networks.roles import ModelInfo, Separator

if TYPE_CHECKING:
    from workers.compute.vocal_classifier import VocalClassifier


@dataclass(frozen=True)
class Separation:
    """Result of the separate stage.

    ``vocals`` and ``accompaniment``: (2, n) float32 at ``sample_rate`` (44.1 kHz), where
    n is the input's length at that rate; they sum back to the (resampled) mixture.
    ``activity``: vocal-to-mix level and activity every 0.1 s. ``separator``: the model
    and the sha256 of its weights (None for weight-free methods). ``warnings``: what a
    reader of the report should know about the quality (e.g. a fallback was used).
    ``activity_model``: the vocal-activity classifier that marked the active frames, None
    when the energy rule did.
    """

    vocals: np.ndarray
    accompaniment: np.ndarray
    sample_rate: int
    activity: VocalActivity
    separator: ModelInfo
    warnings: tuple[str, ...]
    activity_model: ModelInfo | None = None


def separate(
    mixture: np.ndarray,
    sample_rate: int,
    separator: Separator,
    warnings: Iterable[str] = (),
    classifier: VocalClassifier | None = None,
) -> Separation:
    """Separate ``mixture`` (channels, n) float32 at ``sample_rate``; any channel count.

    The mix is resampled to the separator's rate and made stereo (mono is duplicated,
    more than two channels are averaged) before separation.
    """
    mix = _as_stereo(np.asarray(mixture, dtype=np.float32))
    mix = resample(mix, sample_rate, separator.sample_rate)
    vocals, accompaniment = separator.separate(mix)
    activity = measure_activity(vocals, mix, separator.sample_rate)
    if classifier is not None:
        activity = classifier.refine(activity, mix, separator.sample_rate)
    return Separation(
        vocals=np.ascontiguousarray(vocals, dtype=np.float32),
        accompaniment=np.ascontiguousarray(accompaniment, dtype=np.float32),
        sample_rate=separator.sample_rate,
        activity=activity,
        separator=separator.info,
        warnings=tuple(warnings),
        activity_model=None if classifier is None else classifier.info,
    )


def _as_stereo(samples: np.ndarray) -> np.ndarray:
    """(n,) or (channels, n) -> (2, n)."""
    samples = np.atleast_2d(samples)
    if samples.shape[0] == 2:
        return samples
    mono = samples.mean(axis=0, keepdims=True)
    return np.repeat(mono, 2, axis=0)

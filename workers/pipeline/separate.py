"""The separate stage: vocals and accompaniment of a track, and where the vocals are active.

Separators are chosen by name from ``SEPARATORS``: ``htdemucs`` (Demucs v4 hybrid
transformer, needs its weights file) and ``repet-sim`` (weight-free, see
``workers.pipeline.repet_sim``). ``load_separator`` loads one once per process; when the
htdemucs file is absent (and downloading it is off or fails) it falls back to repet-sim
and says so in a warning that the stage result carries. It never runs a network with
random weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from app.errors import WeightsMissingError
from workers.pipeline.audio import resample
from workers.pipeline.repet_sim import RepetSimSeparator
from workers.pipeline.types import ModelInfo
from workers.pipeline.vocal_activity import VocalActivity, measure_activity
from workers.weights import WeightsDownloadError, choose_model_name, default_model_name

__all__ = [
    "SEPARATORS", "Separation", "Separator", "VocalActivity", "load_separator", "separate",
    "default_separator_name", "separator_name",
]

log = logging.getLogger(__name__)

FALLBACK = "repet-sim"


class Separator(Protocol):
    """Splits a stereo mix into vocals and accompaniment at its own ``sample_rate``."""

    info: ModelInfo
    sample_rate: int

    def separate(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(2, n) float32 -> (vocals, accompaniment), each (2, n) float32."""
        ...


@dataclass(frozen=True)
class Separation:
    """Result of the separate stage.

    ``vocals`` and ``accompaniment``: (2, n) float32 at ``sample_rate`` (44.1 kHz), where
    n is the input's length at that rate; they sum back to the (resampled) mixture.
    ``activity``: vocal-to-mix level and activity every 0.1 s. ``separator``: the model
    and the sha256 of its weights (None for weight-free methods). ``warnings``: what a
    reader of the report should know about the quality (e.g. a fallback was used).
    """

    vocals: np.ndarray
    accompaniment: np.ndarray
    sample_rate: int
    activity: VocalActivity
    separator: ModelInfo
    warnings: tuple[str, ...]


def _load_htdemucs(weights_dir: Path | None, device: str, allow_download: bool) -> Separator:
    # Imported here: torch and demucs load only when a neural separator is asked for.
    from workers.nn.device import resolve_device
    from workers.pipeline.demucs_separator import DemucsSeparator
    from workers.weights import resolve

    weights = resolve("htdemucs", weights_dir, allow_download=allow_download)
    info = ModelInfo(name="htdemucs", sha256=weights.sha256)
    return DemucsSeparator.from_file(weights.path, info, resolve_device(device))


def _load_repet_sim(weights_dir: Path | None, device: str, allow_download: bool) -> Separator:
    return RepetSimSeparator()


# Adding a separator means one module and one line here:
# name -> loader(weights_dir, device, allow_download).
SEPARATORS: dict[str, Callable[[Path | None, str, bool], Separator]] = {
    "htdemucs": _load_htdemucs,
    "repet-sim": _load_repet_sim,
}


def default_separator_name() -> str:
    """The separator marked ``default: true`` in weights/manifest.yaml."""
    return default_model_name("separator", SEPARATORS)


def separator_name(configured: str) -> str:
    """The separator to use: ``configured``, or the manifest's default when it is empty."""
    return choose_model_name(configured, "separator", SEPARATORS)


@lru_cache(maxsize=8)
def load_separator(
    name: str, weights_dir: Path | None, device: str = "cpu", allow_download: bool = False
) -> tuple[Separator, tuple[str, ...]]:
    """The separator ``name`` and the warnings to attach to its results; cached per process.

    Weights come from ``weights_dir``, then weights/, then, only when ``allow_download``
    (SOUNDSCAPE_WEIGHTS_DOWNLOAD), a verified download. A file still missing (download off
    or failed) falls back to repet-sim with a warning that says why. A file present but
    failing verification raises WeightsChecksumError: a damaged install must be fixed, not
    papered over. An unknown name raises ValueError.
    """
    if name not in SEPARATORS:
        raise ValueError(f"unknown separator {name!r}; known: {', '.join(sorted(SEPARATORS))}")
    try:
        return SEPARATORS[name](weights_dir, device, allow_download), ()
    except WeightsMissingError as exc:
        if name == FALLBACK:
            raise
        warning = _fallback_warning(name, exc)
        log.warning("%s (%s)", warning, exc.detail)
        return SEPARATORS[FALLBACK](weights_dir, device, allow_download), (warning,)


def _fallback_warning(name: str, exc: WeightsMissingError) -> str:
    if isinstance(exc, WeightsDownloadError):
        return (f"{name} weights not installed and the download failed ({exc.detail}): "
                f"used {FALLBACK}, quality is lower")
    return f"{name} weights not installed: used {FALLBACK}, quality is lower"


def separate(
    mixture: np.ndarray,
    sample_rate: int,
    separator: Separator,
    warnings: Iterable[str] = (),
) -> Separation:
    """Separate ``mixture`` (channels, n) float32 at ``sample_rate``; any channel count.

    The mix is resampled to the separator's rate and made stereo (mono is duplicated,
    more than two channels are averaged) before separation.
    """
    mix = _as_stereo(np.asarray(mixture, dtype=np.float32))
    mix = resample(mix, sample_rate, separator.sample_rate)
    vocals, accompaniment = separator.separate(mix)
    activity = measure_activity(vocals, mix, separator.sample_rate)
    return Separation(
        vocals=np.ascontiguousarray(vocals, dtype=np.float32),
        accompaniment=np.ascontiguousarray(accompaniment, dtype=np.float32),
        sample_rate=separator.sample_rate,
        activity=activity,
        separator=separator.info,
        warnings=tuple(warnings),
    )


def _as_stereo(samples: np.ndarray) -> np.ndarray:
    """(n,) or (channels, n) -> (2, n)."""
    samples = np.atleast_2d(samples)
    if samples.shape[0] == 2:
        return samples
    mono = samples.mean(axis=0, keepdims=True)
    return np.repeat(mono, 2, axis=0)

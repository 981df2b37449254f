"""The voice-clone detector registry: each detector by manifest name, behind one interface.

Adding a detector means one module in ``workers/nn`` (a builder returning a model whose
``forward`` maps a (B, window) waveform to ``(hidden, outputs)``), one manifest entry for
its weights, and one line in :data:`DETECTORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from workers.nn.aasist import build_aasist, build_aasist_l
from workers.nn.device import resolve_device
from workers.nn.frontends import peak_normalise
from workers.nn.rawgat_st import build_rawgat_st
from workers.nn.svdd import build_svdd_lfcc, build_svdd_raw
from workers.pipeline.types import ModelInfo
from workers.weights import choose_model_name, default_model_name, resolve


class Detector(Protocol):
    """What the rest of the code sees of a voice-clone detector."""

    name: str
    sample_rate: int
    window: int
    info: ModelInfo

    def score_batch(self, batch: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class TwoClassLogits:
    """Outputs (B, 2) are class logits; ``synthetic_index`` is the spoof class."""

    synthetic_index: int

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        # float64: in float32 the softmax rounds to exactly 1.0 from a logit gap of ~17,
        # and these models put real singing and synthetic speech both above 0.999.
        return torch.softmax(outputs.double(), dim=-1)[:, self.synthetic_index]


@dataclass(frozen=True)
class SingleLogit:
    """Outputs (B, 1) are one logit; sigmoid of it is P(synthetic) when ``higher_is_synthetic``."""

    higher_is_synthetic: bool

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        logit = outputs[:, 0].double()
        return torch.sigmoid(logit if self.higher_is_synthetic else -logit)


@dataclass(frozen=True)
class DetectorSpec:
    """How to build, feed and read one detector.

    ``readout`` turns the model's raw outputs into P(synthetic); its direction was measured
    on real and synthetic speech and is pinned by tests/workers/nn/test_score_direction.py.
    """

    build: Callable[[], nn.Module]
    window: int
    readout: Callable[[torch.Tensor], torch.Tensor]
    sample_rate: int = 16000
    peak_normalise: bool = False


# Upstream labels: AASIST and RawGAT-ST train with bona fide = class 1, so class 0 is spoof;
# the CtrSVDD baselines train a BCE logit with spoof = 1. Data confirm both (see tests).
DETECTORS: dict[str, DetectorSpec] = {
    "aasist": DetectorSpec(build_aasist, 64600, TwoClassLogits(synthetic_index=0)),
    "aasist-l": DetectorSpec(build_aasist_l, 64600, TwoClassLogits(synthetic_index=0)),
    "rawgat-st": DetectorSpec(build_rawgat_st, 64600, TwoClassLogits(synthetic_index=0)),
    "svdd-raw": DetectorSpec(build_svdd_raw, 64000, SingleLogit(True), peak_normalise=True),
    "svdd-lfcc": DetectorSpec(build_svdd_lfcc, 64000, SingleLogit(True), peak_normalise=True),
}


class LoadedDetector:
    """A detector with its verified weights loaded, in eval mode on one device."""

    def __init__(self, name: str, spec: DetectorSpec, model: nn.Module, info: ModelInfo,
                 device: torch.device) -> None:
        self.name = name
        self.sample_rate = spec.sample_rate
        self.window = spec.window
        self.info = info
        self.device = device
        self.model = model
        self._spec = spec

    def score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """P(synthetic) per window.

        batch: (B, window) float32 mono at ``sample_rate``, on any device.
        Returns (B,) float64 in [0, 1] on the CPU (float64 keeps scores near 1 apart).
        """
        if batch.dim() != 2 or batch.size(1) != self.window:
            raise ValueError(
                f"{self.name} scores (B, {self.window}) windows, got {tuple(batch.shape)}"
            )
        with torch.inference_mode():
            x = batch.to(self.device, torch.float32)
            if self._spec.peak_normalise:
                x = peak_normalise(x)
            _, outputs = self.model(x)
            return self._spec.readout(outputs).cpu()


def load_detector(
    name: str, weights_dir: Path | None, device: str = "cpu", allow_download: bool = False
) -> Detector:
    """The detector ``name``, loaded once per process and device.

    The weights are resolved by :func:`workers.weights.resolve`: ``weights_dir``, then
    weights/, then, only when ``allow_download`` (SOUNDSCAPE_WEIGHTS_DOWNLOAD), a verified
    download. Raises ValueError for a name not in :data:`DETECTORS`, WeightsMissingError
    (or its WeightsDownloadError) for an absent file, WeightsChecksumError for an altered one.
    """
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}")
    folder = Path(weights_dir) if weights_dir else None
    return _load(name, folder, resolve_device(device), allow_download)


@cache
def _load(
    name: str, weights_dir: Path | None, device: torch.device, allow_download: bool
) -> LoadedDetector:
    spec = DETECTORS[name]
    weights = resolve(name, weights_dir, allow_download=allow_download)
    model = spec.build()
    state = torch.load(weights.path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    return LoadedDetector(name, spec, model, ModelInfo(name, weights.sha256), device)


def default_detector_name() -> str:
    """The detector marked ``default: true`` in weights/manifest.yaml."""
    return default_model_name("detector", DETECTORS)


def detector_name(configured: str) -> str:
    """The detector to use: ``configured``, or the manifest's default when it is empty."""
    return choose_model_name(configured, "detector", DETECTORS)

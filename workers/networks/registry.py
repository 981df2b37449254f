"""The one registry of models: every role (separator, vocal detector, full-mix detector,
speaker encoder), one line per model, keyed by its weights-manifest name.

A line names a loader by import path ("module:function"): the registry itself imports no
torch, so the API and the CPU worker may read it. ``load_model`` resolves and verifies the
weights (workers.networks.weights), imports the loader and calls it once per process.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from workers.networks import weights
from workers.networks.readouts import Readout, SingleLogit, TwoClassLogits
from workers.networks.roles import ROLES

DETECTOR_LOADER = "workers.networks.detectors:load_detector"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One model: its role, its manifest name and the loader ``(spec, weights, device)``.

    ``weights`` is the verified ResolvedWeights, or None for a weight-free method.
    """

    role: str
    name: str
    loader: str
    needs_weights: bool = True

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"{self.name}: unknown role {self.role!r}; known: {sorted(ROLES)}")


@dataclass(frozen=True, kw_only=True)
class DetectorSpec(ModelSpec):
    """A window detector: the torch network to build, how to feed it and read its outputs.

    ``readout`` turns the raw outputs into P(synthetic); its direction was measured on real
    and synthetic speech (tests/workers/networks/test_score_direction.py).
    """

    loader: str = DETECTOR_LOADER
    network: str
    window: int
    readout: Readout
    sample_rate: int = 16000
    peak_normalise: bool = False

    def build(self) -> Any:
        """A fresh, randomly initialised network (an ``nn.Module``)."""
        return _import(self.network)()


@dataclass(frozen=True, kw_only=True)
class SeparatorSpec(ModelSpec):
    role: str = "separator"
    fallback: str | None = field(default=None)


def _detector(name: str, network: str, window: int, readout: Readout, **kw: Any) -> DetectorSpec:
    return DetectorSpec(
        role="vocal-detector", name=name, network=network, window=window, readout=readout, **kw
    )


# Upstream labels: AASIST and RawGAT-ST train with bona fide = class 1, so class 0 is spoof;
# the CtrSVDD baselines train a BCE logit with spoof = 1. Data confirm both (see tests).
# Adding a model: its module under workers/networks/, its manifest entry, one line here.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        SeparatorSpec(
            name="htdemucs", loader="workers.networks.demucs:load_htdemucs", fallback="repet-sim"
        ),
        SeparatorSpec(
            name="repet-sim",
            loader="workers.networks.repet_sim:load_repet_sim",
            needs_weights=False,
        ),
        ModelSpec(
            role="speaker-encoder",
            name="resemblyzer-ge2e",
            loader="workers.networks.ge2e:load_ge2e",
        ),
        ModelSpec(
            role="mixture-detector",
            name="soundscape-mix",
            loader="workers.networks.mixture_detector:load_mixture_detector",
        ),
        _detector("aasist", "workers.networks.aasist:build_aasist", 64600, TwoClassLogits(0)),
        _detector("aasist-l", "workers.networks.aasist:build_aasist_l", 64600, TwoClassLogits(0)),
        _detector(
            "rawgat-st", "workers.networks.rawgat_st:build_rawgat_st", 64600, TwoClassLogits(0)
        ),
        _detector(
            "svdd-raw",
            "workers.networks.svdd:build_svdd_raw",
            64000,
            SingleLogit(True),
            peak_normalise=True,
        ),
        _detector(
            "svdd-lfcc",
            "workers.networks.svdd:build_svdd_lfcc",
            64000,
            SingleLogit(True),
            peak_normalise=True,
        ),
    )
}


def specs(role: str) -> dict[str, Any]:
    """The registered models of ``role``, by name."""
    return {name: spec for name, spec in MODELS.items() if spec.role == role}


def get_spec(role: str, name: str) -> ModelSpec:
    """The spec of model ``name``; ValueError naming the known ones when it is not a ``role``."""
    known = specs(role)
    if name not in known:
        raise ValueError(f"unknown {role} {name!r}; known: {', '.join(sorted(known))}")
    spec: ModelSpec = known[name]
    return spec


def load_model(
    role: str,
    name: str,
    weights_dir: Path | None = None,
    device: str = "cpu",
    allow_download: bool = False,
) -> Any:
    """The model ``name`` of ``role``, loaded once per process (and device), meeting the
    interface of its role (workers.networks.roles.ROLES).

    Weights come from ``weights_dir``, then weights/, then, only when ``allow_download``
    (SOUNDSCAPE_WEIGHTS_DOWNLOAD), a verified download. Raises ValueError for an unknown
    name, WeightsMissingError (or WeightsDownloadError) for an absent file and
    WeightsChecksumError for an altered one.
    """
    spec = get_spec(role, name)
    return _load(spec, Path(weights_dir) if weights_dir else None, device, allow_download)


@cache
def _load(spec: ModelSpec, weights_dir: Path | None, device: str, allow_download: bool) -> Any:
    resolved = None
    if spec.needs_weights:
        resolved = weights.resolve(spec.name, weights_dir, allow_download=allow_download)
    return _import(spec.loader)(spec, resolved, device)


def default_model_name(role: str) -> str:
    """The model of ``role`` marked ``default: true`` in the manifest (one, and registered)."""
    defaults = [e.name for e in weights.load_manifest().values() if e.role == role and e.default]
    if len(defaults) != 1 or defaults[0] not in specs(role):
        raise RuntimeError(
            f"weights/manifest.yaml must mark one known {role} as default, found {defaults}"
        )
    return defaults[0]


def specs_with_default(role: str) -> bool:
    """Whether the manifest marks a default model of ``role`` (a deployment may ship none:
    without a mixture detector the verdict stays inconclusive, and the report says why)."""
    return any(e.role == role and e.default for e in weights.load_manifest().values())


def model_name(role: str, configured: str) -> str:
    """``configured`` (a SOUNDSCAPE_* setting), or the manifest's default of ``role`` when it
    is empty; ValueError naming the valid choices for an unknown name."""
    name = configured.strip()
    if not name:
        return default_model_name(role)
    known = specs(role)
    if name not in known:
        raise ValueError(
            f"unknown {role} {name!r}; choose one of {', '.join(sorted(known))}, "
            f"or leave it empty for the default ({default_model_name(role)})"
        )
    return name


def _import(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)

"""Window detectors (roles "vocal-detector", "mixture-detector"): a registered network with
its verified weights, behind the WindowDetector interface of workers.networks.roles."""

from __future__ import annotations

import torch
from torch import nn

from workers.networks.device import resolve_device
from workers.networks.frontends import peak_normalise
from workers.networks.registry import DetectorSpec, ModelSpec
from workers.networks.roles import ModelInfo
from workers.networks.weights import ResolvedWeights


class LoadedDetector:
    """A detector with its verified weights loaded, in eval mode on one device."""

    def __init__(
        self, spec: DetectorSpec, model: nn.Module, info: ModelInfo, device: torch.device
    ) -> None:
        self.name = spec.name
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


def load_detector(spec: ModelSpec, weights: ResolvedWeights | None, device: str) -> LoadedDetector:
    """The registry's loader of every DetectorSpec: strict weight loading, eval mode."""
    assert isinstance(spec, DetectorSpec) and weights is not None
    model = spec.build()
    state = torch.load(weights.path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    target = resolve_device(device)
    model.to(target).eval()
    return LoadedDetector(spec, model, ModelInfo(spec.name, weights.sha256), target)

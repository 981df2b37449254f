"""Demucs (htdemucs) as a Separator: a local model package in, vocals and accompaniment out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workers.networks.device import resolve_device
from workers.networks.roles import ModelInfo

if TYPE_CHECKING:
    from workers.networks.registry import ModelSpec
    from workers.networks.weights import ResolvedWeights

# apply_model settings: the whole track in overlapping segments (the model's own segment
# length, 7.8 s for htdemucs), 25 % overlap blended with triangular weights, and no random time
# shifts so the same input always gives the same stems.
OVERLAP = 0.25
SHIFTS = 0


class DemucsSeparator:
    """A Demucs model loaded once, on ``device``; input and output stay on the CPU.

    ``separate`` takes (2, n) float32 at ``sample_rate`` (44.1 kHz for htdemucs) and
    returns (vocals, accompaniment), each (2, n) float32. Accompaniment is the mixture
    minus the vocals, so the two stems always sum back to the input.
    """

    def __init__(self, model: Any, info: ModelInfo, device: torch.device) -> None:
        """``model``: a demucs model (HTDemucs, HDemucs, ...) with a ``vocals`` source."""
        sources = list(getattr(model, "sources", []))
        if "vocals" not in sources:
            raise ValueError(f"{info.name} has no vocals source (sources: {sources})")
        self.model = model
        self.info = info
        self.device = device
        self.sample_rate = int(model.samplerate)
        self.audio_channels = int(model.audio_channels)
        self._vocals_index = sources.index("vocals")

    @classmethod
    def from_file(cls, path: Path, info: ModelInfo, device: torch.device) -> DemucsSeparator:
        """Load the model package ``path`` (``<signature>[-<sha256 prefix>].th``).

        Goes through demucs's own loader: ``get_model(signature, repo=path.parent)``, which
        re-checks the sha256 prefix carried in the file name when there is one. The folder
        should hold only Demucs packages (demucs scans every ``.th`` file in it).
        """
        from demucs.pretrained import get_model

        signature = path.stem.split("-", 1)[0]
        model = get_model(signature, repo=path.parent)
        model.to(device).eval()
        return cls(model, info, device)

    def separate(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(2, n) float32 at ``sample_rate`` -> (vocals, accompaniment), each (2, n) float32."""
        from demucs.apply import apply_model

        mix = torch.from_numpy(np.ascontiguousarray(mixture, dtype=np.float32))
        # Demucs was trained on standardised input (its own CLI does the same): separate
        # the normalised mix, then undo the scaling on the vocals only.
        reference = mix.mean(0)
        mean, std = reference.mean(), reference.std().clamp_min(1e-8)
        with torch.inference_mode():
            stems = apply_model(
                self.model,
                ((mix - mean) / std)[None],
                shifts=SHIFTS,
                split=True,
                overlap=OVERLAP,
                progress=False,
                device=self.device,
            )
            vocals = stems[0, self._vocals_index] * std + mean
            del stems  # the four stems are the largest buffer; drop them before copying
        vocals_np = vocals.numpy().astype(np.float32, copy=False)
        return vocals_np, np.asarray(mixture, dtype=np.float32) - vocals_np


def load_htdemucs(spec: ModelSpec, weights: ResolvedWeights | None, device: str) -> DemucsSeparator:
    """The registry's loader of a Demucs separator from its verified model package."""
    assert weights is not None
    info = ModelInfo(name=spec.name, sha256=weights.sha256)
    return DemucsSeparator.from_file(weights.path, info, resolve_device(device))

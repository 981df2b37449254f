"""The singing detector (role "vocal-detector", domain "singing"): a frozen anti-spoofing
backbone embeds each 16 kHz window of the vocal stem, and a head trained here on real
singing-synthesis and singing-conversion output (``soundscape train singing``) turns the
embedding into P(synthetic): ``head_scores``. No such head ships yet, so none is registered.

The checkpoint holds the head only and names its backbone; the backbone's published weights
are resolved and verified like any other model's (they are never copied into it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workers.mixture.classifier import MixtureClassifier
from workers.networks.frontends import peak_normalise
from workers.networks.registry import DetectorSpec, get_spec, load_model

SAMPLE_RATE = 16000
WINDOW = 64600
"""Samples per window at SAMPLE_RATE (about 4 s): AASIST's input; a backbone with a shorter
window (the CtrSVDD baselines: 64,000) reads the window's start."""
CHECKPOINT_KIND = "soundscape-singing-head"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Backbone:
    licensed: bool
    """Whether its weights carry a licence that lets a head on them ship."""


BACKBONES = {
    "aasist": Backbone(licensed=True),  # MIT
    "aasist-l": Backbone(licensed=True),  # MIT
    "svdd-raw": Backbone(licensed=False),  # CtrSVDD baselines: no published licence
    "svdd-lfcc": Backbone(licensed=False),
}


def load_backbone(name: str, weights_dir: Path | None, device: str = "cpu") -> Any:
    """A registered vocal detector used as the frozen backbone (its verified weights)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return load_model("vocal-detector", name, weights_dir, device)


def _backbone_outputs(net: Any, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(embedding (B, d), P(synthetic) (B,)) of a loaded backbone on (B, >= window) windows."""
    spec = get_spec("vocal-detector", net.name)
    assert isinstance(spec, DetectorSpec)
    x = batch[:, : spec.window].to(net.device, torch.float32)
    if spec.peak_normalise:
        x = peak_normalise(x)
    embedding, outputs = net.model(x)
    return embedding, spec.readout(outputs)


def embed_windows(
    net: Any, windows: np.ndarray, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (B, d) float32 and the backbone's own P(synthetic) (B,) of (B, WINDOW)
    float32 windows at SAMPLE_RATE."""
    embeddings, scores = [], []
    with torch.inference_mode():
        for first in range(0, len(windows), batch_size):
            batch = torch.as_tensor(
                np.asarray(windows[first : first + batch_size], dtype=np.float32)
            )
            embedding, score = _backbone_outputs(net, batch)
            embeddings.append(embedding.cpu().numpy().astype(np.float32))
            scores.append(score.cpu().numpy().astype(np.float64))
    return np.concatenate(embeddings), np.concatenate(scores)


def save_singing_checkpoint(
    head: MixtureClassifier, backbone: str, path: Path, info: dict[str, Any]
) -> None:
    """The head's state, its shape, the backbone's name and ``info`` (plain values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "kind": CHECKPOINT_KIND,
            "version": CHECKPOINT_VERSION,
            "backbone": backbone,
            "n_features": head.n_features,
            "hidden": head.hidden,
            "state_dict": head.state_dict(),
            "info": info,
        },
        path,
    )


def load_singing_checkpoint(path: Path) -> tuple[MixtureClassifier, str, dict[str, Any]]:
    """(head in eval mode, backbone name, info); ValueError for any other file."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(raw, dict) or raw.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is not a singing-detector checkpoint")
    if raw.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path}: singing checkpoint version {raw.get('version')}, "
            f"expected {CHECKPOINT_VERSION}"
        )
    if raw["backbone"] not in BACKBONES:
        raise ValueError(f"{path}: unknown backbone {raw['backbone']!r}")
    head = MixtureClassifier(int(raw["n_features"]), int(raw["hidden"]))
    head.load_state_dict(raw["state_dict"])
    head.eval()
    return head, str(raw["backbone"]), dict(raw["info"])


def head_scores(head: MixtureClassifier, backbone: Any, windows: np.ndarray) -> np.ndarray:
    """P(synthetic) (B,) of (B, WINDOW) float32 windows at SAMPLE_RATE: the head on the
    backbone's embeddings."""
    embeddings, _ = embed_windows(backbone, windows)
    with torch.inference_mode():
        return torch.sigmoid(head(torch.as_tensor(embeddings))).double().numpy()

"""Each published checkpoint fits our implementation exactly and yields the documented shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workers.networks.registry import specs
from workers.networks.weights import load_manifest

pytestmark = pytest.mark.slow  # real pretrained models or whole processes

DETECTORS = specs("vocal-detector")

# (name, width of the hidden embedding, number of raw outputs) per detector.
SHAPES = {
    "aasist": (160, 2),
    "aasist-l": (160, 2),
    "rawgat-st": (7, 2),
    "svdd-raw": (160, 1),
    "svdd-lfcc": (160, 1),
}


def published_state(name: str, weights_dir: Path) -> dict[str, torch.Tensor]:
    path = weights_dir / load_manifest()[name].file
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_published_checkpoint_loads_strictly(name: str, weights_dir: Path) -> None:
    model = DETECTORS[name].build()
    result = model.load_state_dict(published_state(name, weights_dir), strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_forward_returns_hidden_and_outputs_per_window(name: str) -> None:
    spec = DETECTORS[name]
    model = spec.build().eval()
    with torch.inference_mode():
        hidden, outputs = model(0.1 * torch.randn(2, spec.window))
    width, n_outputs = SHAPES[name]
    assert hidden.shape == (2, width)
    assert outputs.shape == (2, n_outputs)


def test_lfcc_filters_we_compute_equal_the_published_buffers(weights_dir: Path) -> None:
    """The LFCC is ours (no torchaudio): its filterbank, DCT and window must be torchaudio's."""
    computed = DETECTORS["svdd-lfcc"].build().state_dict()
    published = published_state("svdd-lfcc", weights_dir)
    for key in ("filter_mat", "dct_mat", "Spectrogram.window"):
        full = f"frontend.lfcc.{key}"
        torch.testing.assert_close(computed[full], published[full])

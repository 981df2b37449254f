"""How a detector's raw outputs become P(synthetic): one small object per output convention.

Written with tensor methods only, so the registry lines that name them import no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch


class Readout(Protocol):
    def __call__(self, outputs: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class TwoClassLogits:
    """Outputs (B, 2) are class logits; ``synthetic_index`` is the spoof class."""

    synthetic_index: int

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        # float64: in float32 the softmax rounds to exactly 1.0 from a logit gap of ~17,
        # and these models put real singing and synthetic speech both above 0.999.
        return outputs.double().softmax(dim=-1)[:, self.synthetic_index]


@dataclass(frozen=True)
class SingleLogit:
    """Outputs (B, 1) are one logit; sigmoid of it is P(synthetic) when ``higher_is_synthetic``."""

    higher_is_synthetic: bool

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        logit = outputs[:, 0].double()
        return (logit if self.higher_is_synthetic else -logit).sigmoid()

"""What each model role offers the stages: one small interface per role, and ModelInfo.

Every entry of the model registry meets the interface of its role. Torch appears here in
annotations only, so importing this module (as the registry does) never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a stage's output: its name and the sha256 of its weights file.

    ``sha256`` is None only for weight-free methods (nothing to checksum).
    """

    name: str
    sha256: str | None
    # What a detector was trained on ("speech", "singing", "music") and whether its
    # threshold was calibrated on real music: only such a detector may decide a verdict.
    domain: str | None = None
    calibrated_on_music: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "sha256": self.sha256}
        if self.domain is not None:
            out |= {"domain": self.domain, "calibrated_on_music": self.calibrated_on_music}
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelInfo:
        return cls(
            name=str(raw["name"]),
            sha256=raw.get("sha256"),
            domain=raw.get("domain"),
            calibrated_on_music=bool(raw.get("calibrated_on_music", False)),
        )


@dataclass(frozen=True)
class MusicThresholds:
    """Thresholds of a detector calibrated on real music: at or above ``synthetic`` a track
    is likely synthetic, at or below ``authentic`` likely authentic, inconclusive between."""

    synthetic: float
    authentic: float


class Separator(Protocol):
    """Role "separator": splits a stereo mix into vocals and accompaniment."""

    info: ModelInfo
    sample_rate: int

    def separate(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(2, n) float32 at ``sample_rate`` -> (vocals, accompaniment), each (2, n) float32."""
        ...


class WindowDetector(Protocol):
    """Roles "vocal-detector" and "mixture-detector": P(synthetic) per fixed-length window."""

    name: str
    sample_rate: int
    window: int
    info: ModelInfo

    def score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, window) float32 mono at ``sample_rate`` -> (B,) P(synthetic) in [0, 1]."""
        ...


class MixtureDetector(Protocol):
    """Role "mixture-detector": P(synthetic) of windows over a whole full mix."""

    name: str
    sample_rate: int
    info: ModelInfo

    def score_track(
        self, mono: np.ndarray, hop_seconds: float
    ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float | None, ...]]:
        """mono float32 (n,) at ``sample_rate`` -> window starts, ends (s), P(synthetic)
        (None for a window it cannot score)."""
        ...


class SpeakerEncoder(Protocol):
    """Role "speaker-encoder": one voice embedding per fixed-length window."""

    name: str
    sample_rate: int
    window: int
    dim: int
    info: ModelInfo

    def encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, window) float32 mono at ``sample_rate`` -> (B, dim) float32 unit vectors."""
        ...


# Role name -> the interface its models meet.
ROLES: dict[str, type[Any]] = {
    "separator": Separator,
    "vocal-detector": WindowDetector,
    "mixture-detector": MixtureDetector,
    "speaker-encoder": SpeakerEncoder,
}

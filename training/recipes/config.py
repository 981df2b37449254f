"""The mixture recipe's settings and its progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from training.zoo import DEFAULT_STEPS, FAMILIES

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    excerpts_per_track: int = 3
    generator_steps: int = DEFAULT_STEPS
    generator_fit_excerpts: int = 16
    classifier_steps: int = 600
    cnn_epochs: int = 12
    target_fpr: float = 0.005
    max_tracks: int | None = None  # per split, for tiny test budgets
    calibration_seconds: float = 30.0
    calibration_excerpts: int = 1
    workers: int | None = None
    cache_dir: Path | None = None
    families: tuple[str, ...] = field(default_factory=lambda: FAMILIES)

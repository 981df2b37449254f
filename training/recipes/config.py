"""The mixture recipe's settings, the progress callback, and the check every recipe makes of
the candidates it is asked to compare."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


def require_known_candidates(asked: Iterable[str], known: Iterable[str]) -> None:
    """ValueError naming the unknown candidates among ``asked`` and the known ones."""
    names = list(known)
    unknown = sorted(set(asked) - set(names))
    if unknown:
        raise ValueError(f"unknown candidate(s) {', '.join(unknown)}; known: {', '.join(names)}")

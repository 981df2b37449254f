"""The recipe's cache of rows and calibration features, keyed by everything they depend on:
the corpus manifest, the settings that shape them, the codec conditions and the code."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.conditions import available_conditions
from training.recipes.config import TrainConfig

# The code whose output the row and calibration caches hold (paths from the project root).
_CALIBRATION_SOURCES = (
    "training/conditions.py",
    "training/corpus/records.py",
    "training/datasets.py",
    "training/recipes/calibration.py",
    "training/recipes/mixture.py",
    "workers/mixture/features.py",
    "workers/mixture/classifier.py",
)
_CACHED_SOURCES = {
    "rows": (*_CALIBRATION_SOURCES, "training/zoo"),
    "calibration": _CALIBRATION_SOURCES,
}


def cache_key(corpus_dir: Path, config: TrainConfig, what: str) -> str:
    """Digest of what ``what`` ("rows" or "calibration") depends on: the corpus manifest, the
    recipe settings that shape it, the codec conditions here and the source code making it."""
    shaping = {
        "rows": ("seed", "excerpts_per_track", "generator_steps", "generator_fit_excerpts"),
        "calibration": ("seed", "calibration_seconds", "calibration_excerpts"),
    }[what]
    settings = {name: getattr(config, name) for name in (*shaping, "max_tracks", "families")}
    sha = hashlib.sha256(json.dumps([what, settings, available_conditions()]).encode())
    sha.update((corpus_dir / "manifest.json").read_bytes())
    here = Path(__file__).resolve().parents[2]
    for name in _CACHED_SOURCES[what]:
        for source in (
            sorted((here / name).rglob("*.py")) if (here / name).is_dir() else [here / name]
        ):
            sha.update(source.read_bytes())
    return f"{what}-{sha.hexdigest()[:24]}"


def cached(config: TrainConfig, key: str, build: Callable[[], Any]) -> Any:
    """``build()``, kept in ``config.cache_dir`` under ``key`` when a cache folder is set."""
    if config.cache_dir is None:
        return build()
    path = config.cache_dir / f"{key}.pickle"
    if path.exists():
        with path.open("rb") as handle:
            return pickle.load(handle)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return value

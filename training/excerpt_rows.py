"""Conditioned excerpts of the real, AI-music and singing corpora, as window feature rows.

Each corpus item yields one or more excerpts; each excerpt is drawn, mixed (real singing over a
real instrumental of its split), conditioned (``training.augment``) and cut into 10 s windows
every HOP_SECONDS as the service windows a track (the last window ends the excerpt), each a
``workers.mixture.texture`` feature vector and whether it is loud enough to score. Rows are
kept in a cache folder under a key of the items, the settings and the code that makes them.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import training.augment
import training.conditions
import workers.compute.audio
import workers.mixture.features
from training.augment import condition_excerpt, draw_span, item_rng, mix_over, read_mono
from training.conditions import available_conditions
from training.corpus.demo_pages import AI, load_demo_manifest
from training.corpus.records import CorpusError, load_manifest
from workers.compute.audio import resample
from workers.mixture import texture
from workers.mixture.classifier import window_features

TRAIN, VALIDATION, CALIBRATION = "train", "validation", "calibration"
HOP_SECONDS = 1.0  # the service's timeline hop
# The code that makes rows: the cache key covers each of these files.
_ROW_CODE = (
    training.augment,
    training.conditions,
    workers.compute.audio,
    workers.mixture.features,
    texture,
)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExcerptConfig:
    """What shapes the rows: the seed of every draw, excerpt lengths and counts."""

    seed: int = 0
    excerpt_seconds: float = 30.0
    real_music_excerpts: int = 3
    long_fake_excerpts: int = 2
    """Excerpts of a generated item longer than a minute (one otherwise)."""


@dataclass(frozen=True)
class Item:
    """One excerpt to make: ``label`` 1 for generated audio; ``bed`` an instrumental to sing
    over (real singing mixed), else None."""

    item_id: str
    path: str
    label: int
    source: str
    generator: str
    split: str
    excerpt: int
    duration: float
    bed: str | None = None
    bed_duration: float = 0.0
    condition: str | None = None
    """The codec condition to apply (calibration: every one in turn); None draws one."""
    sha256: str = ""
    """Of the item's published file (the cache key covers the audio through it)."""


@dataclass(frozen=True)
class Rows:
    """The windows of one conditioned excerpt: features (w, FEATURE_SIZE) and whether each is
    loud enough to score (w,) bool."""

    item: Item
    drawn: dict[str, Any]
    features: np.ndarray
    audible: np.ndarray


def corpus_items(
    real_dir: Path, ai_dir: Path, singing_dir: Path | None, config: ExcerptConfig
) -> list[Item]:
    """Every excerpt the recipe makes, from the corpora's manifests."""
    items: list[Item] = []
    reals = load_manifest(real_dir)
    for track in reals:
        n = config.real_music_excerpts if track.kind == "music" else 1
        path = str(real_dir / "audio" / f"{track.track_id}.flac")
        source = f"real:{track.source.split(':')[0]}"
        items += [
            Item(
                track.track_id,
                path,
                0,
                source,
                track.kind,
                track.split,
                k,
                track.duration_seconds,
                sha256=track.sha256,
            )
            for k in range(n)
        ]
    for record in load_demo_manifest(ai_dir):
        fake = record.kind == AI
        n = config.long_fake_excerpts if fake and record.duration_seconds > 60 else 1
        split = record.split if fake else _real_split(record.split)
        source = record.repo if fake else f"real:{record.repo}"
        path = str(ai_dir / "audio" / f"{record.item_id}.flac")
        items += [
            Item(record.item_id, path, int(fake), source, record.generator, split, k,
                 record.duration_seconds, sha256=record.sha256)
            for k in range(n)
        ]  # fmt: skip
    if singing_dir is not None:
        items += _sung_reals(singing_dir, real_dir, [t for t in reals if t.kind == "music"])
    return items


def _real_split(split: str) -> str:
    """A demo page's real references: train stays train, the rest calibrates."""
    return TRAIN if split == TRAIN else CALIBRATION


def _sung_reals(singing_dir: Path, real_dir: Path, music: Sequence[Any]) -> list[Item]:
    beds = {
        split: [t for t in music if not t.has_vocals and t.split == split]
        for split in (TRAIN, CALIBRATION)
    }
    if not all(beds.values()):
        raise CorpusError("the real-music corpus has no instrumental in train or calibration")
    items = []
    for index, record in enumerate(r for r in load_demo_manifest(singing_dir) if r.kind != AI):
        split = _real_split(record.split)
        bed = beds[split][index % len(beds[split])]
        path = str(singing_dir / "audio" / f"{record.item_id}.flac")
        base = Item(record.item_id, path, 0, "real:singing", "singing", split, 0,
                    record.duration_seconds, sha256=record.sha256)  # fmt: skip
        items.append(base)
        items.append(
            Item(record.item_id, path, 0, "real:singing", "singing-mix", split, 1,
                 record.duration_seconds, str(real_dir / "audio" / f"{bed.track_id}.flac"),
                 bed.duration_seconds, sha256=f"{record.sha256}+{bed.sha256}")
        )  # fmt: skip
    return items


def under_every_condition(items: Sequence[Item]) -> list[Item]:
    """The first excerpt of each real item not in the train split, once under every codec
    condition this ffmpeg offers: the calibration's "every condition"."""
    held_out = [i for i in items if not i.label and i.split != TRAIN and i.excerpt == 0]
    return [replace(i, condition=name) for i in held_out for name in available_conditions()]


def excerpt_rows(job: tuple[Item, ExcerptConfig]) -> Rows:
    """Condition one excerpt (``training.augment``) and compute its window features."""
    item, config = job
    rng = item_rng(item.item_id, item.excerpt, config.seed)
    start, seconds = draw_span(item.duration, rng, config.excerpt_seconds)
    mono, rate = read_mono(Path(item.path), start, seconds)
    if item.bed is not None:
        bed_start = float(rng.uniform(0.0, max(0.0, item.bed_duration - seconds)))
        bed, bed_rate = read_mono(Path(item.bed), bed_start, seconds)
        mono = mix_over(mono, resample(bed, bed_rate, rate), float(rng.uniform(-6.0, 6.0)))
    audio, drawn = condition_excerpt(mono, rate, rng, texture.SAMPLE_RATE, item.condition)
    features, audible = window_rows(audio)
    facts = asdict(drawn) | {"start_seconds": start, "seconds": seconds}
    return Rows(item, facts, features, audible)


def window_rows(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (w, FEATURE_SIZE) and audibility (w,) of the service's windows of ``audio``
    (mono at texture.SAMPLE_RATE): 10 s every HOP_SECONDS, the last one ending the excerpt."""
    windows = window_features(texture.texture_frames(audio), HOP_SECONDS, texture.SAMPLE_RATE)
    return windows.features, windows.audible


def build_rows(
    items: Sequence[Item],
    config: ExcerptConfig,
    progress: Progress | None,
    *,
    workers: int | None = None,
    cache_dir: Path | None = None,
) -> list[Rows]:
    """Rows of every item, in parallel, kept in the cache folder when one is set."""
    key = hashlib.sha256(json.dumps([[asdict(i) for i in items], asdict(config)]).encode())
    for module in (*_ROW_CODE, sys.modules[__name__]):
        key.update(Path(str(module.__file__)).read_bytes())
    path = cache_dir / f"rows-{key.hexdigest()[:24]}.pickle" if cache_dir else None
    if path is not None and path.exists():
        with path.open("rb") as handle:
            cached: list[Rows] = pickle.load(handle)
            return cached
    rows: list[Rows] = []
    with ProcessPoolExecutor(workers) as pool:
        for done, row in enumerate(
            pool.map(excerpt_rows, [(i, config) for i in items], chunksize=4)
        ):
            rows.append(row)
            if progress is not None:
                progress("excerpts", done + 1, len(items))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            pickle.dump(rows, handle)
    return rows

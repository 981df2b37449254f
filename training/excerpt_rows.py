"""Conditioned excerpts of the real, AI-music and singing corpora, as window feature rows.

Each corpus item yields one or more excerpts; each excerpt is drawn, mixed (real singing over a
real instrumental of its split), conditioned (``training.augment``) and cut into 10 s windows
every HOP_SECONDS, each a ``workers.mixture.texture`` feature vector with its level. Rows are
kept in a cache folder under a key of the items, the settings and the code that makes them.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import training.augment
from training.augment import condition_excerpt, draw_span, item_rng, mix_over, read_mono
from training.conditions import available_conditions
from training.corpus.demo_pages import AI, load_demo_manifest
from training.corpus.records import load_manifest
from workers.compute.audio import resample
from workers.mixture import texture
from workers.mixture.classifier import WINDOW_SECONDS

TRAIN, VALIDATION, CALIBRATION = "train", "validation", "calibration"
HOP_SECONDS = 5.0
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


@dataclass(frozen=True)
class Rows:
    """The windows of one conditioned excerpt: features (w, FEATURE_SIZE), levels (w,) dB."""

    item: Item
    drawn: dict[str, Any]
    features: np.ndarray
    levels: np.ndarray


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
                track.track_id, path, 0, source, track.kind, track.split, k, track.duration_seconds
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
                 record.duration_seconds)
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
    items = []
    for index, record in enumerate(r for r in load_demo_manifest(singing_dir) if r.kind != AI):
        split = _real_split(record.split)
        bed = beds[split][index % len(beds[split])]
        path = str(singing_dir / "audio" / f"{record.item_id}.flac")
        base = Item(record.item_id, path, 0, "real:singing", "singing", split, 0,
                    record.duration_seconds)  # fmt: skip
        items.append(base)
        items.append(
            Item(record.item_id, path, 0, "real:singing", "singing-mix", split, 1,
                 record.duration_seconds, str(real_dir / "audio" / f"{bed.track_id}.flac"),
                 bed.duration_seconds)
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
    features, levels = window_rows(audio)
    facts = asdict(drawn) | {"start_seconds": start, "seconds": seconds}
    return Rows(item, facts, features, levels)


def window_rows(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (w, FEATURE_SIZE) and levels (w,) of 10 s windows every HOP_SECONDS."""
    frames = texture.texture_frames(audio)
    duration = audio.size / texture.SAMPLE_RATE
    starts = [0.0]
    if duration > WINDOW_SECONDS:
        starts = list(np.arange(0.0, duration - WINDOW_SECONDS + 1e-9, HOP_SECONDS))
    spans = [(s, min(s + WINDOW_SECONDS, duration)) for s in starts]
    features = np.stack([frames.window(s, e) for s, e in spans])
    return features, np.array([frames.level_db(s, e) for s, e in spans])


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
    for module in (texture.__file__, __file__, training.augment.__file__):
        key.update(Path(str(module)).read_bytes())
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

"""Labelled feature rows for the mixture detector: real excerpts and their synthetic counterparts.

Every excerpt of a corpus split yields real rows and, per generator family, one fake row made
by a random member of the family (possibly a partial blend). Each row, real or fake, then
goes through a random codec condition, so a codec is never the signal. Rows carry what made
them (track, family, generator, blend fraction, condition) for leave-one-family-out
validation and per-condition false-positive rates.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from training.conditions import apply_condition
from training.corpus.records import TrackRecord
from training.zoo import blend, generators_in, load_generator, random_blend_fraction
from workers.mixture.classifier import MIN_WINDOW_LEVEL_DB, WINDOW_SECONDS
from workers.mixture.features import SAMPLE_RATE, level_db, spectrogram_patch, track_frames

REAL = "real"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Example:
    """What one feature row is: ``family`` is REAL for real rows."""

    track_id: str
    excerpt: int
    family: str
    generator: str
    fraction: float
    condition: str

    @property
    def label(self) -> int:
        return int(self.family != REAL)


@dataclass(frozen=True)
class ExampleSet:
    """Rows, their features (N, n_features) and baseline fingerprints (N, m), float32, and the
    CNN baseline's log-spectrogram patches (N, bins, frames) float16."""

    examples: tuple[Example, ...]
    features: np.ndarray
    fingerprints: np.ndarray
    patches: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return np.array([e.label for e in self.examples], dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(e, name) for e in self.examples])

    def subset(self, mask: np.ndarray) -> ExampleSet:
        keep = np.flatnonzero(mask)
        return ExampleSet(
            tuple(self.examples[i] for i in keep),
            self.features[keep],
            self.fingerprints[keep],
            self.patches[keep],
        )


@dataclass(frozen=True)
class Recipe:
    """How many rows an excerpt yields and under which conditions."""

    families: tuple[str, ...]
    conditions: tuple[str, ...]
    excerpts_per_track: int = 3
    excerpt_seconds: float = WINDOW_SECONDS
    reals_per_excerpt: int = 2
    seed: int = 0


def excerpt_starts(
    duration: float, seconds: float, count: int, rng: np.random.Generator
) -> list[float]:
    """Up to ``count`` non-overlapping excerpt starts (seconds), spread over the track."""
    if duration <= seconds:
        return [0.0]
    slots = min(count, int(duration // seconds))
    span = duration / slots
    return [i * span + float(rng.uniform(0, span - seconds)) for i in range(slots)]


def read_excerpt(path: Path, start: float, seconds: float) -> np.ndarray:
    """float32 (channels, n) of a corpus FLAC (44.1 kHz) from ``start`` for ``seconds``."""
    first = int(start * SAMPLE_RATE)
    audio, _ = sf.read(
        path, start=first, stop=first + int(seconds * SAMPLE_RATE), dtype="float32", always_2d=True
    )
    return np.ascontiguousarray(audio.T)


def excerpt_features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, baseline fingerprint and CNN patch of a whole excerpt (channels, n)."""
    mono = audio.mean(axis=0)
    frames, end = track_frames(mono), mono.size / SAMPLE_RATE
    return frames.window(0.0, end), frames.fingerprint(0.0, end), spectrogram_patch(mono)


Row = tuple[Example, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _excerpt_rows(job: tuple[Path, str, int, float, Recipe]) -> list[Row]:
    path, track_id, index, start, recipe = job
    rng = np.random.default_rng([recipe.seed, index, zlib.crc32(track_id.encode())])
    audio = read_excerpt(path, start, recipe.excerpt_seconds)
    if level_db(audio.mean(axis=0)) < MIN_WINDOW_LEVEL_DB:
        return []  # the service leaves such a window unscored: nothing to learn from it
    rows = []
    conditions = rng.choice(recipe.conditions, size=recipe.reals_per_excerpt, replace=False)
    for condition in conditions:
        example = Example(track_id, index, REAL, "", 0.0, str(condition))
        rows.append((example, excerpt_features(apply_condition(audio, SAMPLE_RATE, condition))))
    for family in recipe.families:
        name = str(rng.choice(generators_in(family)))
        fraction = random_blend_fraction(rng)
        fake = blend(audio, load_generator(name, recipe.seed)(audio, SAMPLE_RATE), fraction)
        condition = str(rng.choice(recipe.conditions))
        example = Example(track_id, index, family, name, fraction, condition)
        rows.append((example, excerpt_features(apply_condition(fake, SAMPLE_RATE, condition))))
    return rows


def single_thread() -> None:
    """Pool initializer: one torch thread per worker process (the pool is the parallelism)."""
    import torch

    torch.set_num_threads(1)


def build_examples(
    corpus_dir: Path,
    tracks: Sequence[TrackRecord],
    recipe: Recipe,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ExampleSet:
    """Rows for ``tracks`` of the corpus at ``corpus_dir`` (deterministic for the recipe).

    Runs in ``workers`` forked processes (default: the CPU count), one excerpt per task;
    generators fitted in this process (``fit_generators``) are inherited by the workers.
    """
    jobs = []
    for track in tracks:
        rng = np.random.default_rng([recipe.seed, zlib.crc32(track.track_id.encode())])
        path = corpus_dir / "audio" / f"{track.track_id}.flac"
        for index, start in enumerate(
            excerpt_starts(
                track.duration_seconds, recipe.excerpt_seconds, recipe.excerpts_per_track, rng
            )
        ):
            jobs.append((path, track.track_id, index, start, recipe))
    results: list[list[Row]] = []
    count = workers or os.cpu_count() or 1
    if count == 1:
        for job in jobs:
            results.append(_excerpt_rows(job))
            if progress:
                progress(len(results), len(jobs))
    else:
        with ProcessPoolExecutor(count, initializer=single_thread) as pool:
            for rows in pool.map(_excerpt_rows, jobs):
                results.append(rows)
                if progress:
                    progress(len(results), len(jobs))
    flat = [row for rows in results for row in rows]
    return ExampleSet(
        tuple(e for e, _ in flat),
        np.stack([f for _, (f, _, _) in flat]),
        np.stack([p for _, (_, p, _) in flat]),
        np.stack([s for _, (_, _, s) in flat]),
    )

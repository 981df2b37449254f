"""Partially synthetic tracks: chosen regions of real audio replaced by a re-synthesised
version of the same audio, with short crossfades; the ground truth for localization.

A region is decoded by a zoo generator together with a little real context either side
(``CONTEXT_SECONDS``), so the decoder's edges fall outside the region, then spliced in with
equal-power crossfades centred on the region's edges.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from training.zoo import Generator, fit_generators, load_generator
from training.zoo.spec import SAMPLE_RATE
from workers.compute.audio import decode_file

# Real audio decoded with a region on each side, so a decoder's warm-up stays outside it.
CONTEXT_SECONDS = 1.0
# Neural generators are fitted on excerpts of this length taken from the sources.
FIT_EXCERPT_SECONDS = 8.0


def choose_regions(
    duration_seconds: float,
    count: int,
    min_seconds: float,
    max_seconds: float,
    min_gap_seconds: float,
    rng: np.random.Generator,
) -> list[tuple[float, float]]:
    """Up to ``count`` non-overlapping regions (start, end) in seconds, sorted, each
    ``min_seconds``-``max_seconds`` long and at least ``min_gap_seconds`` from the others.

    Lengths are drawn first and the free time shared out at random between the gaps, so
    every arrangement is possible; fewer regions come back when the track is too short.
    """
    if not 0 < min_seconds <= max_seconds:
        raise ValueError(f"need 0 < min_seconds <= max_seconds, got {min_seconds}, {max_seconds}")
    for n in range(count, 0, -1):
        lengths = rng.uniform(min_seconds, max_seconds, size=n)
        free = duration_seconds - lengths.sum() - min_gap_seconds * (n - 1)
        if free < 0:
            lengths = np.full(n, min_seconds)
            free = duration_seconds - lengths.sum() - min_gap_seconds * (n - 1)
        if free < 0:
            continue
        # Split the free time into n + 1 gaps (before, between, after) at random.
        cuts = np.sort(rng.uniform(0.0, free, size=n))
        regions, cursor, used = [], 0.0, 0.0
        for length, cut in zip(lengths, cuts, strict=True):
            start = cursor + (cut - used)
            regions.append((round(float(start), 3), round(float(start + length), 3)))
            cursor, used = start + length + min_gap_seconds, cut
        return regions
    return []


def crossfade_gains(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power fade-out and fade-in gains over ``n`` samples (float32 each)."""
    phase = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1) * (math.pi / 2)
    return np.cos(phase).astype(np.float32), np.sin(phase).astype(np.float32)


def splice(
    real: np.ndarray,
    fake: np.ndarray,
    start: int,
    end: int,
    crossfade: int,
) -> np.ndarray:
    """``real`` with samples [start, end) taken from ``fake`` (both (channels, n), aligned),
    crossfading over ``crossfade`` samples centred on each edge (clipped to the track)."""
    if real.shape != fake.shape:
        raise ValueError(f"shapes differ: real {real.shape}, fake {fake.shape}")
    n = real.shape[-1]
    weight = np.zeros(n, dtype=np.float32)
    weight[start:end] = 1.0
    half = crossfade // 2
    fade_out, fade_in = crossfade_gains(crossfade)
    for edge, ramp in ((start, fade_in), (end, fade_out)):
        lo, hi = edge - half, edge - half + crossfade
        a, b = max(lo, 0), min(hi, n)
        if crossfade > 0 and 0 < edge < n:
            weight[a:b] = ramp[a - lo : b - lo] ** 2
    # Equal power: real * sqrt(1 - w) + fake * sqrt(w), where w is the fake's power share.
    spliced = real * np.sqrt(1.0 - weight) + fake * np.sqrt(weight)
    return np.asarray(spliced, dtype=np.float32)


def make_partial(
    audio: np.ndarray,
    rate: int,
    regions: Sequence[tuple[float, float]],
    generators: Sequence[Generator],
    crossfade_seconds: float,
) -> np.ndarray:
    """Replace each region (seconds) of ``audio`` (float32 (channels, n) at ``rate``) by its
    re-synthesis with ``generators[i]``; returns the spliced track, same shape."""
    if len(generators) != len(regions):
        raise ValueError("need one generator per region")
    out = np.asarray(audio, dtype=np.float32).copy()
    n, context = out.shape[-1], round(CONTEXT_SECONDS * rate)
    crossfade = round(crossfade_seconds * rate)
    for (start_s, end_s), generator in zip(regions, generators, strict=True):
        start, end = round(start_s * rate), min(round(end_s * rate), n)
        lo, hi = max(0, start - context), min(n, end + context)
        fake = np.array(out, copy=True)
        fake[:, lo:hi] = generator(out[:, lo:hi], rate)
        out = splice(out, fake, start, end, crossfade)
    return out


@dataclass(frozen=True)
class PartialConfig:
    """How ``write_partial_set`` cuts and re-synthesises (see ``soundscape make-partial``)."""

    generators: tuple[str, ...]
    regions_per_track: int = 2
    min_seconds: float = 10.0
    max_seconds: float = 30.0
    min_gap_seconds: float = 10.0
    crossfade_seconds: float = 0.05
    max_track_seconds: float | None = None
    fit_steps: int = 40
    fit_excerpts: int = 4
    cache_dir: Path | None = None
    seed: int = 0


def write_partial_set(
    sources: Sequence[Path],
    out_dir: Path,
    config: PartialConfig,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[list[float]]]:
    """Write each source as ``out_dir/<name>.flac`` with regions re-synthesised, the ground
    truth as ``regions.json`` ({file: [[start, end], ...]}) and, for each region, the
    generator that made it as ``generators.json``. Returns the ground truth.

    Neural generators are fitted first (``fit_steps`` Adam steps on ``fit_excerpts`` 8 s
    excerpts of the sources, cached in ``cache_dir``); each region gets the next generator
    of ``config.generators`` in a seeded shuffled cycle, so every named one is used.
    """
    say = progress or (lambda _message: None)
    if config.fit_steps > 0:
        say(f"fitting {len(config.generators)} generator(s) ({config.fit_steps} steps, cached)")
        excerpts = _fit_excerpts(sources, config, np.random.default_rng([config.seed, 1]))
        fit_generators(config.generators, excerpts, config.fit_steps, config.seed, config.cache_dir)
    rng = np.random.default_rng([config.seed, 2])
    order = [str(name) for name in rng.permutation(list(config.generators))]
    truth: dict[str, list[list[float]]] = {}
    used: dict[str, list[str]] = {}
    assigned = 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(sources):
        name = _output_name(path, index, sources)
        signal = decode_file(path, SAMPLE_RATE, 2, config.max_track_seconds)
        regions = choose_regions(
            signal.shape[-1] / SAMPLE_RATE,
            config.regions_per_track,
            config.min_seconds,
            config.max_seconds,
            config.min_gap_seconds,
            rng,
        )
        names = [order[(assigned + k) % len(order)] for k in range(len(regions))]
        assigned += len(regions)
        generators = [load_generator(g, config.seed) for g in names]
        partial = make_partial(signal, SAMPLE_RATE, regions, generators, config.crossfade_seconds)
        sf.write(out_dir / name, np.clip(partial, -1.0, 1.0).T, SAMPLE_RATE, subtype="PCM_16")
        truth[name], used[name] = [[s, e] for s, e in regions], names
        say(f"{name}: {len(regions)} region(s) by {', '.join(names) or 'none'}")
    (out_dir / "regions.json").write_text(json.dumps(truth, indent=2) + "\n")
    (out_dir / "generators.json").write_text(json.dumps(used, indent=2) + "\n")
    return truth


def _output_name(path: Path, index: int, sources: Sequence[Path]) -> str:
    """``<stem>.flac``, prefixed with the source's position when two sources share a stem."""
    clash = sum(other.stem == path.stem for other in sources) > 1
    return f"{index:03d}-{path.stem}.flac" if clash else f"{path.stem}.flac"


def _fit_excerpts(
    sources: Sequence[Path], config: PartialConfig, rng: np.random.Generator
) -> list[np.ndarray]:
    """``fit_excerpts`` excerpts of FIT_EXCERPT_SECONDS, from the sources in turn."""
    length = round(FIT_EXCERPT_SECONDS * SAMPLE_RATE)
    excerpts = []
    for k in range(config.fit_excerpts):
        track = decode_file(sources[k % len(sources)], SAMPLE_RATE, 2, config.max_track_seconds)
        start = int(rng.integers(0, max(1, track.shape[-1] - length)))
        excerpts.append(np.ascontiguousarray(track[:, start : start + length]))
    return excerpts

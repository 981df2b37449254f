"""An evaluation folder cut from one corpus split: ``real/`` excerpts and, re-synthesised by
each generator of the zoo, ``fake/<generator>/``, every file through the same codec condition:
the layout ``soundscape evaluate`` reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from training.conditions import apply_condition
from training.corpus.records import TrackRecord, load_manifest
from training.datasets import excerpt_starts, read_excerpt
from training.zoo import GENERATORS, load_generator
from workers.mixture.features import SAMPLE_RATE


@dataclass(frozen=True)
class FakeSetConfig:
    split: str
    seconds: float = 20.0
    condition: str = "mp3-128"
    generators: tuple[str, ...] = ()
    """Empty: the whole zoo."""
    max_tracks: int | None = None
    seed: int = 0


def write_fake_set(
    corpus: Path,
    out: Path,
    config: FakeSetConfig,
    each: Callable[[Sequence[TrackRecord]], Iterable[TrackRecord]] = iter,
) -> tuple[int, int]:
    """Write one excerpt per track of ``config.split`` as real and as every generator's fake;
    ``each`` wraps the track loop (a progress bar). Returns (real files, fake files)."""
    names = list(config.generators) or list(GENERATORS)
    unknown = sorted(set(names) - set(GENERATORS))
    if unknown:
        raise ValueError(f"unknown generator(s) {', '.join(unknown)}; see the zoo's registry")
    tracks = [t for t in load_manifest(corpus) if t.split == config.split]
    tracks = tracks[: config.max_tracks] if config.max_tracks else tracks
    rng = np.random.default_rng(config.seed)
    for track in each(tracks):
        start = excerpt_starts(track.duration_seconds, config.seconds, 1, rng)[0]
        audio = read_excerpt(corpus / "audio" / f"{track.track_id}.flac", start, config.seconds)
        outputs = {Path("real"): audio}
        for name in names:
            outputs[Path("fake") / name] = load_generator(name, config.seed)(audio, SAMPLE_RATE)
        for folder, signal in outputs.items():
            target = out / folder / f"{track.track_id}.flac"
            target.parent.mkdir(parents=True, exist_ok=True)
            coded = apply_condition(signal, SAMPLE_RATE, config.condition)
            sf.write(target, np.clip(coded, -1, 1).T, SAMPLE_RATE, subtype="PCM_16")
    return len(tracks), len(tracks) * len(names)

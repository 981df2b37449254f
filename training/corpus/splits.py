"""Which split each corpus track goes to, deterministic from a seed.

Split rule, by track, deterministic from `seed`:

- Debian tracks, package by package and kind by kind: rank the package's tracks by sha256 of
  "<seed>:<track_id>"; the track at rank i of n sits at (i + 0.5) / n and goes to `train` below
  0.55, `validation` below 0.70, else `calibration`. Stratifying by package keeps every
  soundtrack near 55 / 15 / 30 % (a plain per-track hash left validation at 9 % of the hours);
  the price is that adding a track to a package can move others of that package.
- Shared vocal songs from `songs/` (the precious false-positive set), ranked by the same hash:
  the first goes to `validation`; of the rest, the first Jonathan Coulton song and the first
  song by anyone else go to `train`; all others (at least 5 of 8) go to `calibration`.
- Other shared vocal music (Karissa Hobbs) goes to `calibration`.
- Shared recordings that are not music (speech, bird, whale) go to `calibration`: held out
  from training, they measure false positives on content the detector never learned from.
- Shared instrumentals, ranked by the hash: every third from the first goes to `validation`,
  the others to `calibration`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from training.corpus.records import MUSIC, OTHER, SONGS_FOLDER, TrackRecord

DEBIAN_SPLIT_BOUNDS: tuple[tuple[float, str], ...] = ((0.55, "train"), (0.70, "validation"))


def hash_fraction(seed: int, track_id: str) -> float:
    """A stable number in [0, 1) from the seed and the track id."""
    digest = hashlib.sha256(f"{seed}:{track_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(records: Sequence[TrackRecord], seed: int) -> list[TrackRecord]:
    """The records with `split` set by the rule in this module's docstring, in input order."""
    split_of: dict[str, str] = {}
    groups = {(r.source, r.kind) for r in records if r.source.startswith("debian:")}
    for source, kind in groups:
        package = sorted(
            (r.track_id for r in records if r.source == source and r.kind == kind),
            key=lambda track_id: hash_fraction(seed, track_id),
        )
        for rank, track_id in enumerate(package):
            position = (rank + 0.5) / len(package)
            split_of[track_id] = next(
                (name for bound, name in DEBIAN_SPLIT_BOUNDS if position < bound), "calibration"
            )
    for record in records:
        if record.source == "shared" and record.kind == OTHER:
            split_of[record.track_id] = "calibration"
    ranked = sorted(
        (r for r in records if r.source == "shared" and r.kind == MUSIC),
        key=lambda r: hash_fraction(seed, r.track_id),
    )
    songs = [r for r in ranked if r.has_vocals and _is_song(r)]
    for record in songs[1:]:
        split_of[record.track_id] = "calibration"
    if songs:
        split_of[songs[0].track_id] = "validation"
    for is_coulton in (True, False):
        first = next((r for r in songs[1:] if _is_coulton(r) is is_coulton), None)
        if first is not None:
            split_of[first.track_id] = "train"
    for record in ranked:
        if record.has_vocals and not _is_song(record):
            split_of[record.track_id] = "calibration"
    instrumentals = [r for r in ranked if not r.has_vocals]
    for index, record in enumerate(instrumentals):
        split_of[record.track_id] = "validation" if index % 3 == 0 else "calibration"
    return [replace(record, split=split_of[record.track_id]) for record in records]


def _is_song(record: TrackRecord) -> bool:
    return record.original_path.startswith(f"{SONGS_FOLDER}/")


def _is_coulton(record: TrackRecord) -> bool:
    return "jonathan_coulton" in record.original_path.lower()

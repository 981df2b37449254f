"""Vocal activity against karaoke note files: the frames the separate stage marks active
versus the frames where the lead vocal sounds, per song (precision, recall, F1).

A 0.1 s frame [i * 0.1, (i + 1) * 0.1) is sung in the truth when any note of the song's
UltraStar file overlaps it (training.corpus.notes; backing vocals are not annotated, so
they count against precision). F1 = 2 TP / (2 TP + FP + FN) over one song's frames; the
summary is the mean of the songs' F1 (every song weighs the same, whatever its length).
An audio file of the folder without a note file is reported by the share of its frames
marked active only (an instrumental should be near 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.config import Settings
from training.corpus.notes import sung_spans
from training.evaluation.localization_metrics import Counts, Span, active_segments
from workers.compute.vocal_activity import HOP_SECONDS

AUDIO_SUFFIXES = (".mp3", ".ogg", ".flac", ".wav", ".opus", ".m4a")
NOTES_SUFFIX = ".notes.txt"
RATE = 44100  # the canonical audio's rate, which the separate stage reads
CLASSIFIER, ENERGY = "classifier", "energy"
RULES = (CLASSIFIER, ENERGY)


@dataclass(frozen=True)
class FrameScores:
    """Frame counts of one song: true positives, false positives, false negatives."""

    counts: Counts

    @property
    def precision(self) -> float | None:
        c = self.counts
        return None if c.tp + c.fp == 0 else c.tp / (c.tp + c.fp)

    @property
    def recall(self) -> float | None:
        c = self.counts
        return None if c.tp + c.fn == 0 else c.tp / (c.tp + c.fn)

    @property
    def f1(self) -> float | None:
        return self.counts.f1

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.counts.tp,
            "fp": self.counts.fp,
            "fn": self.counts.fn,
        }


def truth_frames(spans: Sequence[Span], frames: int, hop: float = HOP_SECONDS) -> np.ndarray:
    """(frames,) bool: frame i is sung when a span overlaps [i * hop, (i + 1) * hop)."""
    sung = np.asarray(active_segments(spans, frames * hop, hop), dtype=bool)
    return np.pad(sung, (0, max(0, frames - len(sung))))[:frames]


def frame_scores(truth: np.ndarray, active: np.ndarray) -> FrameScores:
    """Counts of ``active`` (frames,) bool against ``truth`` (frames,) bool."""
    truth, active = np.asarray(truth, dtype=bool), np.asarray(active, dtype=bool)
    if truth.shape != active.shape:
        raise ValueError(f"truth has {truth.shape} frames, the estimate {active.shape}")
    return FrameScores(
        Counts(
            tp=int(np.sum(truth & active)),
            fp=int(np.sum(~truth & active)),
            fn=int(np.sum(truth & ~active)),
        )
    )


@dataclass(frozen=True)
class SongResult:
    """One file: its scores (None without a note file) and the share of frames marked active."""

    name: str
    seconds: float
    active_share: float
    scores: FrameScores | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "song": self.name,
            "seconds": round(self.seconds, 2),
            "active_share": round(self.active_share, 4),
        }
        return out | ({} if self.scores is None else self.scores.as_dict())


def mean_f1(results: Sequence[SongResult]) -> float | None:
    """The mean F1 of the songs that have one (None when none has)."""
    values = [r.scores.f1 for r in results if r.scores is not None and r.scores.f1 is not None]
    return float(np.mean(values)) if values else None


def song_files(songs_dir: Path) -> list[tuple[Path, Path | None]]:
    """(audio, its note file or None) of every audio file in ``songs_dir``, by name."""
    audio = sorted(p for p in songs_dir.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not audio:
        raise FileNotFoundError(f"{songs_dir} holds no audio file")
    pairs = []
    for path in audio:
        notes = path.with_name(path.stem + NOTES_SUFFIX)
        pairs.append((path, notes if notes.is_file() else None))
    return pairs


def score_song(name: str, active: np.ndarray, notes: Path | None) -> SongResult:
    """A file's result from its (frames,) bool activity and its note file."""
    truth = None if notes is None else truth_frames(sung_spans(notes), len(active))
    return SongResult(
        name,
        len(active) * HOP_SECONDS,
        float(np.mean(active)) if len(active) else 0.0,
        None if truth is None else frame_scores(truth, active),
    )


@dataclass(frozen=True)
class VocalActivityEvaluation:
    """Every file's result, the rule that marked the frames and the models behind it."""

    rule: str
    models: dict[str, Any]
    songs: list[SongResult]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "models": self.models,
            "hop_seconds": HOP_SECONDS,
            "mean_f1": mean_f1(self.songs),
            "songs": [song.as_dict() for song in self.songs],
        }


def evaluate_vocal_activity(
    songs_dir: Path, settings: Settings, rule: str = CLASSIFIER, seconds: float | None = None
) -> VocalActivityEvaluation:
    """Run the separate stage's computation on every audio file of ``songs_dir`` (its first
    ``seconds`` when given) with the configured separator and, for ``rule`` "classifier",
    the shipped vocal-activity classifier ("energy": the stem's energy rule), and score it."""
    from workers.compute.audio import decode_file
    from workers.compute.separation import separate
    from workers.compute.vocal_classifier import load_shipped_classifier
    from workers.networks.registry import model_name
    from workers.networks.separators import load_separator

    if rule not in RULES:
        raise ValueError(f"unknown vocal-activity rule {rule!r}; choose one of {RULES}")
    separator, warnings = load_separator(
        model_name("separator", settings.separator),
        settings.weights_dir,
        settings.device,
        allow_download=settings.weights_download,
    )
    classifier = load_shipped_classifier(settings.weights_dir) if rule == CLASSIFIER else None
    songs = []
    for audio, notes in song_files(songs_dir):
        mix = decode_file(audio, RATE, 2, max_seconds=seconds)
        activity = separate(mix, RATE, separator, warnings, classifier).activity
        songs.append(score_song(audio.stem, activity.active, notes))
    models = {"separator": separator.info.as_dict()}
    if classifier is not None:
        models["vocal_activity"] = classifier.info.as_dict()
    return VocalActivityEvaluation(rule, models, songs)

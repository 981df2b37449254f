"""``soundscape train vocal-activity``: fit the vocal-activity classifier on real songs and
their karaoke note files, measured on songs it was not fitted on.

Each annotated song of the folder is decoded as the service decodes it (44.1 kHz stereo),
separated by repet-sim (the stem's level and energy-rule activity), cut into 0.1 s frames
of ``workers.compute.vocal_features`` (computed from the mix alone) and labelled sung where
a note of its UltraStar file overlaps the frame (training.evaluation.vocal_activity). The
classifier is a class-balanced logistic regression (``hidden`` 0) or a one-hidden-layer
MLP; its output is smoothed by a running median of ``smooth_frames`` frames, thresholded
and joined with the stem's evidence exactly as the service does
(``workers.compute.vocal_classifier.combine``).

The threshold is never chosen on the song it is measured on: for each fold, the songs of
its training side are split into ``inner_folds`` folds, each predicted by a model fitted on
the other folds, and the threshold of the grid that maximises their mean F1 is kept. Two
measurements: leave-one-song-out over every song, and the singer split (fitted on the
songs of ``singer``, measured on everyone else's). The shipped model is fitted on all the
songs, at the threshold chosen the same way on all of them.

Recordings with no lead vocal (``instrumentals``: every frame unsung) join the training
side of every fit and are never measured here: without them a string orchestra, whose
vibrato no song's accompaniment has, passes for singing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.corpus.notes import sung_spans
from training.evaluation.vocal_activity import RATE, frame_scores, song_files, truth_frames
from workers.compute.audio import decode_file
from workers.compute.separation import separate
from workers.compute.vocal_activity import VocalActivity
from workers.compute.vocal_classifier import (
    combine,
    match_length,
    mix_features,
    save_vocal_classifier,
    smoothed_probabilities,
)
from workers.mixture.classifier import MixtureClassifier, fit_classifier
from workers.networks.repet_sim import RepetSimSeparator

THRESHOLDS = tuple(float(round(t, 2)) for t in np.arange(0.20, 0.701, 0.05))


@dataclass(frozen=True)
class VocalActivityConfig:
    hidden: int = 0
    weight_decay: float = 1e-3
    steps: int = 200
    smooth_frames: int = 9
    # Fit on every ``stride``-th frame: neighbours share most of their context features.
    stride: int = 2
    # The threshold of a fold is chosen on ``inner_folds`` folds of its training songs.
    inner_folds: int = 3
    seed: int = 0
    singer: str = "Jonathan_Coulton"
    thresholds: tuple[float, ...] = field(default_factory=lambda: THRESHOLDS)


@dataclass(frozen=True)
class Song:
    """One annotated song: its name, singer, frame features and sung frames."""

    name: str
    singer: str
    features: np.ndarray  # (frames, FEATURE_SIZE) float32
    sung: np.ndarray  # (frames,) bool
    energy: VocalActivity  # the repet-sim stem's level and energy-rule activity


def _analyse(audio: Path) -> tuple[np.ndarray, VocalActivity]:
    """Features and the stem's activity of one file, decoded as the service decodes it."""
    mix = decode_file(audio, RATE, 2)
    energy = separate(mix, RATE, RepetSimSeparator()).activity
    return mix_features(mix, RATE), energy


def load_song(audio: Path, notes: Path) -> Song:
    """Features, labels and stem activity of one song."""
    features, energy = _analyse(audio)
    sung = truth_frames(sung_spans(notes), len(features))
    return Song(audio.stem, audio.stem.split("_-_")[0], features, sung, energy)


def load_instrumental(audio: Path) -> Song:
    """A recording with no lead vocal: no frame sung."""
    features, energy = _analyse(audio)
    return Song(audio.stem, "", features, np.zeros(len(features), dtype=bool), energy)


def load_songs(songs_dir: Path) -> list[Song]:
    """Every song of ``songs_dir`` that has a note file, by name."""
    songs = [load_song(audio, notes) for audio, notes in song_files(songs_dir) if notes]
    if len(songs) < 3:
        raise ValueError(f"{songs_dir} holds {len(songs)} annotated songs; at least 3 are needed")
    return songs


def fit(songs: Sequence[Song], config: VocalActivityConfig) -> MixtureClassifier:
    """The classifier fitted on the frames of ``songs``."""
    step = config.stride
    return fit_classifier(
        np.concatenate([s.features[::step] for s in songs]),
        np.concatenate([s.sung[::step] for s in songs]).astype(np.float32),
        hidden=config.hidden,
        weight_decay=config.weight_decay,
        steps=config.steps,
        seed=config.seed,
    )


def predict_song(model: MixtureClassifier, song: Song, config: VocalActivityConfig) -> np.ndarray:
    return smoothed_probabilities(model, song.features, config.smooth_frames)


def choose_threshold(
    songs: Sequence[Song], negatives: Sequence[Song], config: VocalActivityConfig
) -> float:
    """The grid threshold of best mean F1 over ``songs``, each predicted by a model fitted
    on the other folds (``inner_folds`` folds of songs taken in turn: nothing of a song
    decides its own prediction)."""
    folds = [list(songs[k :: config.inner_folds]) for k in range(config.inner_folds)]
    probs: dict[str, np.ndarray] = {}
    for fold in filter(None, folds):
        model = fit([s for s in songs if all(s is not f for f in fold)] + [*negatives], config)
        probs |= {s.name: predict_song(model, s, config) for s in fold}
    means = [
        np.mean([_f1(s, combine(probs[s.name], t, s.energy)) for s in songs])
        for t in config.thresholds
    ]
    return float(config.thresholds[int(np.argmax(means))])


def held_out(
    train: Sequence[Song],
    test: Sequence[Song],
    negatives: Sequence[Song],
    config: VocalActivityConfig,
) -> list[dict[str, Any]]:
    """Per test song: precision, recall and F1 of the model fitted on ``train`` (and the
    ``negatives``) at the threshold chosen on ``train`` alone."""
    threshold = choose_threshold(train, negatives, config)
    model = fit([*train, *negatives], config)
    rows = []
    for song in test:
        active = combine(predict_song(model, song, config), threshold, song.energy)
        scores = frame_scores(song.sung, match_length(active, len(song.sung)))
        rows.append({"song": song.name, "threshold": threshold} | scores.as_dict())
    return rows


def leave_one_song_out(
    songs: Sequence[Song], negatives: Sequence[Song], config: VocalActivityConfig
) -> list[dict[str, Any]]:
    return [held_out([o for o in songs if o is not s], [s], negatives, config)[0] for s in songs]


def singer_split(
    songs: Sequence[Song], negatives: Sequence[Song], config: VocalActivityConfig
) -> list[dict[str, Any]]:
    train = [s for s in songs if s.singer == config.singer]
    test = [s for s in songs if s.singer != config.singer]
    if len(train) < 2 or not test:
        raise ValueError(f"the singer split needs >= 2 songs of {config.singer} and others")
    return held_out(train, test, negatives, config)


def train_vocal_activity(
    songs_dir: Path, out: Path, config: VocalActivityConfig, instrumentals: Sequence[Path] = ()
) -> dict[str, Any]:
    """Measure, fit on every song (and the instrumentals), write the checkpoint; the report
    (also in the checkpoint). Fits run on one torch thread, so that their float sums come in
    one order and the same command writes the same file anywhere."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(songs_dir, out, config, instrumentals)
    finally:
        torch.set_num_threads(threads)


def _train(
    songs_dir: Path, out: Path, config: VocalActivityConfig, instrumentals: Sequence[Path]
) -> dict[str, Any]:
    songs = load_songs(songs_dir)
    negatives = [load_instrumental(path) for path in instrumentals]
    report: dict[str, Any] = {
        "config": asdict(config) | {"thresholds": list(config.thresholds)},
        "songs": {
            s.name: {"frames": len(s.sung), "sung_share": float(s.sung.mean())} for s in songs
        },
        "instrumentals": {s.name: {"frames": len(s.sung)} for s in negatives},
        "leave_one_song_out": leave_one_song_out(songs, negatives, config),
        "singer_split": singer_split(songs, negatives, config),
    }
    for key in ("leave_one_song_out", "singer_split"):
        report[f"{key}_mean_f1"] = float(np.mean([row["f1"] or 0.0 for row in report[key]]))
    threshold = choose_threshold(songs, negatives, config)
    report["threshold"] = threshold
    model = fit([*songs, *negatives], config)
    save_vocal_classifier(model, out, threshold, config.smooth_frames, report)
    return report


def _f1(song: Song, active: np.ndarray) -> float:
    return frame_scores(song.sung, match_length(active, len(song.sung))).f1 or 0.0

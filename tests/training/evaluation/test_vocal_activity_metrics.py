"""Vocal-activity frame scores: note spans become sung frames, and frames are counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.evaluation.localization_metrics import Counts
from training.evaluation.vocal_activity import (
    FrameScores,
    SongResult,
    frame_scores,
    mean_f1,
    score_song,
    song_files,
    truth_frames,
)


def _frames(text: str) -> np.ndarray:
    return np.array([c == "1" for c in text])


def test_counts_precision_recall_and_f1_of_hand_made_frames() -> None:
    scores = frame_scores(_frames("1111000011"), _frames("1100110011"))
    assert scores.counts == Counts(tp=4, fp=2, fn=2)
    assert scores.precision == pytest.approx(4 / 6)
    assert scores.recall == pytest.approx(4 / 6)
    assert scores.f1 == pytest.approx(8 / 12)


def test_precision_differs_from_recall_when_errors_are_one_sided() -> None:
    scores = frame_scores(_frames("111100"), _frames("111111"))
    assert scores.precision == pytest.approx(4 / 6)
    assert scores.recall == 1.0
    assert scores.f1 == pytest.approx(8 / 10)


def test_nothing_marked_active_has_no_precision_and_zero_f1() -> None:
    scores = frame_scores(_frames("0110"), _frames("0000"))
    assert scores.precision is None and scores.recall == 0.0 and scores.f1 == 0.0


def test_frames_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="frames"):
        frame_scores(_frames("0110"), _frames("01100"))


def test_a_frame_is_sung_when_a_note_overlaps_it() -> None:
    # 0.15-0.32 s touches frames 1, 2 and 3; 0.5-0.6 s exactly frame 5; 0.9-2.0 s runs past
    # the 8 frames asked for.
    sung = truth_frames([(0.15, 0.32), (0.5, 0.6), (0.95, 2.0)], frames=8)
    assert sung.tolist() == [False, True, True, True, False, True, False, False]
    assert len(truth_frames([(0.0, 0.05)], frames=3)) == 3


def test_a_song_is_scored_against_its_note_file(tmp_path: Path) -> None:
    notes = tmp_path / "song.notes.txt"
    # 150 BPM: a beat is 0.1 s; notes sound 0.0-0.4 s and 0.6-0.8 s.
    notes.write_text("#BPM:150\n#GAP:0\n: 0 4 0 la\n: 6 2 0 la\nE\n")
    result = score_song("song", _frames("1110011000"), notes)
    assert result.scores is not None
    # truth 1111001100 against 1110011000
    assert result.scores.counts == Counts(tp=4, fp=1, fn=2)
    assert result.seconds == pytest.approx(1.0) and result.active_share == pytest.approx(0.5)


def test_mean_f1_leaves_out_files_without_notes() -> None:
    songs = [
        SongResult("a", 1.0, 0.5, FrameScores(Counts(tp=1, fp=0, fn=0))),
        SongResult("b", 1.0, 0.5, FrameScores(Counts(tp=1, fp=1, fn=1))),
        SongResult("instrumental", 1.0, 0.9, None),
    ]
    assert mean_f1(songs) == pytest.approx((1.0 + 0.5) / 2)
    assert mean_f1(songs[2:]) is None


def test_song_files_pair_each_audio_file_with_its_notes(tmp_path: Path) -> None:
    for name in ("b.mp3", "b.notes.txt", "a.ogg", "readme.txt", "a.license.txt"):
        (tmp_path / name).write_text("")
    assert song_files(tmp_path) == [
        (tmp_path / "a.ogg", None),
        (tmp_path / "b.mp3", tmp_path / "b.notes.txt"),
    ]

"""Windowing covers the whole track; the track aggregate resists dilution and noise."""

from __future__ import annotations

import numpy as np
import pytest

from workers.compute.windows import (
    aggregate_track_score,
    extract_windows,
    repeat_pad,
    timeline_at_hop,
    window_bounds_seconds,
    window_starts,
)

WINDOW, HOP = 400, 100


def _coverage(n: int) -> np.ndarray:
    covered = np.zeros(n, dtype=bool)
    for start in window_starts(n, WINDOW, HOP):
        covered[start : start + WINDOW] = True
    return covered


@pytest.mark.parametrize("n", [1, 137, WINDOW - 1, WINDOW, WINDOW + 1, 1234, 5 * WINDOW])
def test_every_sample_lies_in_some_window(n: int) -> None:
    assert _coverage(n).all()


@pytest.mark.parametrize("n", [WINDOW, WINDOW + 1, 1234, 5 * WINDOW + 37])
def test_last_window_ends_at_the_signal_end(n: int) -> None:
    starts = window_starts(n, WINDOW, HOP)
    assert starts[-1] + WINDOW == n
    assert (starts >= 0).all() and np.all(np.diff(starts) > 0)


def test_windows_start_on_the_hop_grid_before_the_tail() -> None:
    starts = window_starts(1234, WINDOW, HOP)
    assert list(starts[:-1]) == list(range(0, 801, HOP))
    assert starts[-1] == 1234 - WINDOW


def test_short_signal_gets_one_window_and_empty_signal_none() -> None:
    assert list(window_starts(WINDOW - 1, WINDOW, HOP)) == [0]
    assert list(window_starts(WINDOW, WINDOW, HOP)) == [0]
    assert window_starts(0, WINDOW, HOP).size == 0


def test_short_signal_is_repeat_padded_to_a_full_window() -> None:
    signal = np.arange(150, dtype=np.float32)
    windows = extract_windows(signal, window_starts(150, WINDOW, HOP), WINDOW)
    assert windows.shape == (1, WINDOW) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[0], np.concatenate([signal, signal, signal[:100]]))
    np.testing.assert_array_equal(repeat_pad(signal, 10), signal[:10])


def test_window_spans_in_seconds_exclude_padding() -> None:
    starts, ends = window_bounds_seconds(window_starts(150, WINDOW, HOP), WINDOW, 150, 100)
    assert starts == (0.0,) and ends == (1.5,)


def test_twenty_second_fake_verse_is_not_averaged_away_in_four_minutes() -> None:
    # One score per 1 s hop of 4 s windows over a 240 s song; a fake verse at 100-120 s.
    starts = np.arange(0, 237)
    scores = [0.9 if s >= 100 and s + 4 <= 120 else 0.1 for s in starts]
    assert np.mean(scores) < 0.2  # what a plain mean would report
    track = aggregate_track_score(scores, hop_seconds=1.0)
    assert track is not None and track > 0.5


def test_one_noisy_window_does_not_decide_the_track() -> None:
    scores = [0.05] * 120 + [0.99]
    track = aggregate_track_score(scores, hop_seconds=1.0)
    assert track is not None and track < 0.2


def test_aggregate_is_mean_of_top_quartile_for_short_tracks() -> None:
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    assert aggregate_track_score(scores, hop_seconds=1.0) == pytest.approx(0.75)
    assert aggregate_track_score([0.3]) == pytest.approx(0.3)


def test_unscored_windows_are_ignored_and_none_scored_gives_none() -> None:
    assert aggregate_track_score([None, 0.8, None]) == pytest.approx(0.8)
    assert aggregate_track_score([None, None]) is None


def test_timeline_averages_the_windows_over_each_frame() -> None:
    timeline = timeline_at_hop((0.0, 1.0), (2.0, 3.0), (0.2, 0.6), 3.5, 1.0)
    assert timeline == pytest.approx([0.2, 0.4, 0.6, None])


def test_timeline_marks_frames_without_scored_windows_as_null() -> None:
    timeline = timeline_at_hop((0.0, 2.0), (2.0, 4.0), (None, 0.7), 4.0, 1.0)
    assert timeline[:2] == [None, None]
    assert timeline[2:] == pytest.approx([0.7, 0.7])

"""Segment-based and event-based F1 (sound-event detection definitions) on hand-counted cases."""

from __future__ import annotations

import pytest

from training.evaluation.localization_metrics import (
    Counts,
    active_segments,
    event_counts,
    segment_counts,
)


def test_a_segment_is_active_when_any_region_overlaps_it() -> None:
    assert active_segments([(1.5, 3.2)], 5.0, 1.0) == [False, True, True, True, False]
    # Touching a boundary is no overlap.
    assert active_segments([(1.0, 2.0)], 4.0, 1.0) == [False, True, False, False]


def test_the_last_segment_is_cut_by_the_end_of_the_track() -> None:
    assert active_segments([(4.1, 4.3)], 4.3, 1.0) == [False, False, False, False, True]


def test_segment_counts_compare_segment_by_segment() -> None:
    counts = segment_counts([(2.0, 6.0)], [(3.0, 8.0)], 10.0)
    # truth: segments 2-5; estimate: 3-7 -> TP 3 (3, 4, 5), FP 2 (6, 7), FN 1 (2).
    assert counts == Counts(tp=3, fp=2, fn=1)
    assert counts.f1 == pytest.approx(6 / 9)


def test_an_event_matches_only_within_the_collar_at_both_ends() -> None:
    assert event_counts([(10.0, 20.0)], [(10.4, 19.6)]) == Counts(tp=1, fp=0, fn=0)
    assert event_counts([(10.0, 20.0)], [(10.6, 20.0)]) == Counts(tp=0, fp=1, fn=1)
    assert event_counts([(10.0, 20.0)], [(10.0, 20.6)]) == Counts(tp=0, fp=1, fn=1)


def test_each_event_matches_at_most_once_and_the_matching_is_maximal() -> None:
    # Greedy matching of the first truth to the first estimate would strand the second.
    reference = [(0.0, 10.0), (0.4, 10.4)]
    estimate = [(0.3, 10.3), (0.0, 10.0)]
    assert event_counts(reference, estimate) == Counts(tp=2, fp=0, fn=0)
    assert event_counts([(0.0, 10.0)], estimate) == Counts(tp=1, fp=1, fn=0)


def test_f1_is_undefined_with_nothing_to_count() -> None:
    assert Counts().f1 is None
    assert (Counts(1, 0, 1) + Counts(1, 2, 0)).f1 == pytest.approx(4 / 7)

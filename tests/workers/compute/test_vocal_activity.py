"""VocalActivity: its JSON form between stages and its activity curve for the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workers.compute.vocal_activity import VocalActivity, measure_activity


def _activity(active: list[bool], hop_seconds: float = 0.1) -> VocalActivity:
    level = np.where(np.array(active, dtype=bool), -3.14159, -40.0).astype(np.float32)
    return VocalActivity(hop_seconds, level, np.array(active, dtype=bool))


def test_json_round_trip_keeps_activity_and_levels_to_a_hundredth_of_a_db() -> None:
    original = _activity([False, True, True, False, True])
    back = VocalActivity.from_json(json.loads(json.dumps(original.to_json())))
    assert back.hop_seconds == original.hop_seconds
    assert back.level.dtype == np.float32 and back.active.dtype == np.bool_
    assert np.array_equal(back.active, original.active)
    assert np.allclose(back.level, original.level, atol=0.005)


def test_curve_is_the_active_share_of_each_second() -> None:
    activity = _activity([True] * 10 + [True] * 5 + [False] * 5 + [False] * 10)
    assert activity.curve(1.0) == [1.0, 0.5, 0.0]


def test_curve_counts_a_partial_last_second() -> None:
    activity = _activity([False] * 10 + [True, True, False])
    assert activity.curve(1.0) == [0.0, pytest.approx(0.667)]


def test_curve_has_no_spurious_frame_from_float_rounding() -> None:
    # 30 * 0.1 is 3.0000000000000004 in floating point: still three seconds.
    assert len(_activity([True] * 30).curve(1.0)) == 3


def test_curve_of_no_frames_is_empty() -> None:
    assert _activity([]).curve(1.0) == []


def test_a_stem_that_is_the_whole_mix_is_active_throughout() -> None:
    rng = np.random.default_rng(0)
    mix = (0.1 * rng.standard_normal((2, 3 * 8000))).astype(np.float32)
    assert measure_activity(mix, mix, 8000).curve(1.0) == [1.0, 1.0, 1.0]

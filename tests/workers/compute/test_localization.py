"""Region extraction on constructed score curves: hysteresis edges, merging, minimum
duration, the short last frame, and which sources a track's models let localize."""

from __future__ import annotations

import pytest

from workers.compute.localization import (
    Hysteresis,
    LocalizationParams,
    Region,
    extract_regions,
    localize,
    localized_sources,
)
from workers.compute.report import INCONCLUSIVE, LIKELY_AUTHENTIC, LIKELY_SYNTHETIC
from workers.networks.roles import ModelInfo

H = Hysteresis(on=0.9, off=0.5)
LOW, MID, HIGH = 0.1, 0.6, 0.95


def spans(curve, duration=None, hysteresis=H, min_s=0.0, gap_s=0.0, hop=1.0):  # type: ignore[no-untyped-def]
    duration = len(curve) * hop if duration is None else duration
    regions = extract_regions(curve, hop, duration, "mixture", hysteresis, min_s, gap_s)
    return [(r.start, r.end) for r in regions]


def test_a_region_spans_the_frames_above_off_around_a_frame_above_on() -> None:
    curve = [LOW, MID, MID, HIGH, MID, LOW, LOW]
    assert spans(curve) == [(1.0, 5.0)]


def test_a_run_above_off_that_never_reaches_on_is_no_region() -> None:
    assert spans([LOW, MID, MID, MID, LOW]) == []


def test_the_thresholds_are_inclusive() -> None:
    assert spans([LOW, 0.5, 0.9, 0.5, LOW]) == [(1.0, 4.0)]
    assert spans([LOW, 0.4999, 0.8999, LOW]) == []


def test_a_region_may_touch_either_end_of_the_track() -> None:
    assert spans([HIGH, HIGH, LOW, LOW, MID, HIGH]) == [(0.0, 2.0), (4.0, 6.0)]


def test_the_last_frame_ends_with_the_track_not_with_the_hop() -> None:
    # 4.3 s at a 1 s hop: five frames, the last covering [4, 4.3).
    assert spans([LOW, LOW, LOW, HIGH, HIGH], duration=4.3) == [(3.0, 4.3)]


def test_regions_closer_than_the_merge_gap_become_one() -> None:
    curve = [HIGH, HIGH, LOW, LOW, HIGH, HIGH, LOW, LOW, LOW, LOW, HIGH]
    assert spans(curve, gap_s=3.0) == [(0.0, 6.0), (10.0, 11.0)]
    assert spans(curve, gap_s=2.0) == [(0.0, 2.0), (4.0, 6.0), (10.0, 11.0)]


def test_merging_happens_before_short_regions_are_dropped() -> None:
    curve = [HIGH, LOW, HIGH, LOW, HIGH, LOW, LOW, LOW, LOW, HIGH]
    # Three 1 s blips 1 s apart make one 5 s region; the lone blip at the end is dropped.
    assert spans(curve, min_s=3.0, gap_s=1.5) == [(0.0, 5.0)]


def test_a_region_shorter_than_the_minimum_is_dropped() -> None:
    assert spans([LOW, HIGH, HIGH, LOW, HIGH, HIGH, HIGH, LOW], min_s=3.0) == [(4.0, 7.0)]


def test_unmeasured_frames_break_a_region_and_never_belong_to_one() -> None:
    assert spans([HIGH, HIGH, None, HIGH, None]) == [(0.0, 2.0), (3.0, 4.0)]
    assert spans([None, None, None]) == []


def test_a_region_scores_the_mean_of_its_measured_frames() -> None:
    regions = extract_regions([LOW, 0.6, 1.0, None, 0.95], 1.0, 5.0, "mixture", H, 0.0, 2.0)
    assert regions == [Region(1.0, 5.0, pytest.approx((0.6 + 1.0 + 0.95) / 3), "mixture")]


def test_the_hop_scales_every_edge() -> None:
    assert spans([LOW, HIGH, HIGH, LOW], hop=0.5) == [(0.5, 1.5)]


def test_off_above_on_is_refused() -> None:
    with pytest.raises(ValueError, match="off threshold"):
        Hysteresis(on=0.5, off=0.9)


PARAMS = LocalizationParams({"mixture": H}, min_duration_seconds=2.0, merge_gap_seconds=2.0)


def test_a_track_judged_authentic_has_no_regions_whatever_its_curve() -> None:
    curves = {"mixture": [HIGH] * 10}
    assert localize(curves, 1.0, 10.0, LIKELY_AUTHENTIC, PARAMS) == []


def test_a_track_synthetic_everywhere_has_one_region_covering_it() -> None:
    regions = localize({"mixture": [1.0] * 9 + [0.97]}, 1.0, 9.5, LIKELY_SYNTHETIC, PARAMS)
    assert [(r.start, r.end, r.source) for r in regions] == [(0.0, 9.5, "mixture")]


def test_only_sources_with_thresholds_are_localized_and_regions_are_sorted() -> None:
    params = LocalizationParams(
        {"mixture": H, "vocals": Hysteresis(0.99, 0.99)},
        min_duration_seconds=0.0,
        merge_gap_seconds=0.0,
    )
    curves = {
        "mixture": [LOW, LOW, LOW, HIGH, HIGH],
        "vocals": [None, 0.995, None, LOW, LOW],
        "other": [HIGH] * 5,
    }
    regions = localize(curves, 1.0, 5.0, INCONCLUSIVE, params)
    assert [(r.start, r.source) for r in regions] == [(1.0, "vocals"), (3.0, "mixture")]


MIX = ModelInfo("soundscape-mix", "ab" * 32, domain="music", calibrated_on_music=True)
SPEECH = ModelInfo("aasist", "cd" * 32, domain="speech", calibrated_on_music=False)


def test_only_detectors_calibrated_on_music_draw_regions() -> None:
    models = {"mixture_detector": MIX, "vocal_detector": SPEECH}
    chosen, skipped = localized_sources(models, {"mixture": 0.99, "vocals": 0.9}, H)
    assert chosen == {"mixture": H}
    assert "aasist is not calibrated on music" in skipped["vocals"]


def test_a_vocal_detector_calibrated_on_music_would_use_its_own_threshold() -> None:
    vocal = ModelInfo("future", "ef" * 32, domain="singing", calibrated_on_music=True)
    chosen, skipped = localized_sources({"vocal_detector": vocal}, {"vocals": 0.8}, H)
    assert chosen == {"vocals": Hysteresis(0.8, 0.8)}
    assert set(skipped) == {"mixture"}

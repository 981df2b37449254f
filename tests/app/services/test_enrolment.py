"""Enrolment quality: seconds of voice per reference and in all, and whether references agree."""

from __future__ import annotations

import math

import pytest

from app.services.enrolment import (
    ARTIST_MIN_VOCAL_SECONDS,
    MATCH_MIN_VOCAL_SECONDS,
    OUTLIER_THRESHOLD,
    PAIR_THRESHOLD,
    REFERENCE_MIN_VOCAL_SECONDS,
    ReferenceVoice,
    assess,
)

PLENTY = 20.0  # seconds: over the reference minimum; two of them make over 28.8 s in all


def at(similarity: float, dim: int = 4, axis: int = 1) -> list[float]:
    """A unit vector whose cosine with [1, 0, 0, ...] is ``similarity`` (leaning on ``axis``)."""
    vector = [0.0] * dim
    vector[0], vector[axis] = similarity, math.sqrt(1.0 - similarity**2)
    return vector


def voice(name: str, vector: list[float], seconds: float = PLENTY) -> ReferenceVoice:
    return ReferenceVoice(name, seconds, vector)


def warning(quality, code: str) -> dict:  # type: ignore[no-untyped-def]
    found = [w for w in quality.to_json()["warnings"] if w["code"] == code]
    assert len(found) == 1, quality.to_json()["warnings"]
    return found[0]


def test_the_thresholds_follow_the_matching_minimum_and_the_encoders_threshold():
    from workers.compute.identification import min_vocal_seconds
    from workers.networks.weights import shipped_threshold

    assert min_vocal_seconds(1.6) == MATCH_MIN_VOCAL_SECONDS
    assert shipped_threshold("resemblyzer-ge2e") == OUTLIER_THRESHOLD
    assert PAIR_THRESHOLD < OUTLIER_THRESHOLD
    # Shown to clients as written in the README: 9.6 s and 28.8 s, not 28.799999999999997.
    body = assess([]).to_json()
    assert (body["reference_min_vocal_seconds"], body["min_vocal_seconds"]) == (9.6, 28.8)


def test_references_with_enough_voice_that_agree_have_no_warning():
    quality = assess([voice("a", at(1.0)), voice("b", at(0.95)), voice("c", at(0.93, axis=2))])
    body = quality.to_json()
    assert body["status"] == "ok" and body["warnings"] == []
    assert body["references"] == 3 and body["vocal_seconds"] == 3 * PLENTY
    assert body["lowest_agreement"]["similarity"] == pytest.approx(0.95 * 0.93, abs=1e-4)
    assert set(body["lowest_agreement"]["reference_ids"]) == {"b", "c"}


def test_an_artist_with_no_ready_reference_is_warned_it_is_never_matched():
    body = assess([]).to_json()
    assert [w["code"] for w in body["warnings"]] == ["no_references"]
    assert body["lowest_agreement"] is None and body["per_reference"] == []


def test_one_reference_says_agreement_cannot_be_checked():
    quality = assess([voice("a", at(1.0), seconds=ARTIST_MIN_VOCAL_SECONDS + 1)])
    assert quality.codes == ["single_reference"]
    assert "cannot be checked" in warning(quality, "single_reference")["message"]
    assert quality.to_json()["per_reference"][0]["similarity_to_others"] is None
    assert quality.lowest_pair is None


def test_too_little_voice_in_all_is_warned_with_the_figures():
    seconds = (ARTIST_MIN_VOCAL_SECONDS - 1) / 2
    quality = assess([voice("a", at(1.0), seconds), voice("b", at(0.97), seconds)])
    found = warning(quality, "too_little_vocals")
    assert found["vocal_seconds"] == pytest.approx(2 * seconds)
    assert found["min_vocal_seconds"] == ARTIST_MIN_VOCAL_SECONDS
    assert "reference_too_little_vocals" not in quality.codes


def test_a_reference_with_too_little_voice_is_named():
    short = REFERENCE_MIN_VOCAL_SECONDS - 0.8
    quality = assess([voice("a", at(1.0), 40.0), voice("short", at(0.97), short)])
    found = warning(quality, "reference_too_little_vocals")
    assert found["reference_id"] == "short" and found["vocal_seconds"] == short
    assert "short" in found["message"]
    assert quality.codes == ["reference_too_little_vocals"]


def test_two_references_under_the_agreement_threshold_disagree():
    below = PAIR_THRESHOLD - 0.02
    quality = assess([voice("a", at(1.0)), voice("b", at(below))])
    found = warning(quality, "references_disagree")
    assert found["reference_ids"] == ["a", "b"]
    assert found["similarity"] == pytest.approx(below, abs=1e-4)
    assert found["threshold"] == PAIR_THRESHOLD
    # Of two, neither can be blamed: no outlier is named.
    assert "reference_outlier" not in quality.codes


def test_two_references_just_over_the_threshold_agree():
    quality = assess([voice("a", at(1.0)), voice("b", at(PAIR_THRESHOLD + 0.01))])
    assert quality.codes == []


def test_a_reference_far_from_the_others_is_named_as_the_outlier():
    # a, b, c are one voice (about 0.96 alike); d is another voice (0.5 to a, less to b, c).
    quality = assess(
        [
            voice("a", at(1.0)),
            voice("b", at(0.98, axis=1)),
            voice("c", at(0.98, axis=2)),
            voice("d", at(0.5, axis=3)),
        ]
    )
    outlier = warning(quality, "reference_outlier")
    assert outlier["reference_id"] == "d" and outlier["similarity_to_others"] < 0.55
    assert "d" in warning(quality, "references_disagree")["reference_ids"]
    shown = quality.to_json()["per_reference"]
    others = {r["reference_id"]: r["similarity_to_others"] for r in shown}
    assert all(others[name] > OUTLIER_THRESHOLD for name in "abc")


def test_only_the_least_alike_reference_is_named_when_it_drags_the_others_down():
    # Of three, the intruder d pulls a under the threshold too (a is compared with the
    # voiceprint of b and d); only d, the least alike, is named.
    quality = assess([voice("a", at(1.0)), voice("b", at(0.98)), voice("d", at(0.5, axis=3))])
    others = {r["reference_id"]: r["similarity_to_others"] for r in quality.per_reference}
    assert others["a"] < OUTLIER_THRESHOLD and others["d"] < others["a"]
    assert warning(quality, "reference_outlier")["reference_id"] == "d"


def test_a_pair_apart_is_named_with_no_outlier_when_each_matches_the_others():
    # b and c are 0.79 alike, yet each is over 0.87 to the voiceprint of the other three.
    quality = assess(
        [
            voice("a", at(1.0)),
            voice("a2", at(1.0)),
            voice("b", at(0.89)),
            voice("c", at(0.89, axis=2)),
        ]
    )
    assert quality.codes == ["references_disagree"]
    assert warning(quality, "references_disagree")["reference_ids"] == ["b", "c"]
    assert quality.lowest_pair is not None
    assert quality.lowest_pair["similarity"] == pytest.approx(0.89**2, abs=1e-4)


def test_embeddings_need_not_be_unit_length():
    quality = assess([voice("a", [3.0, 0.0]), voice("b", [2.0, 2.0])])
    assert quality.lowest_pair is not None
    assert quality.lowest_pair["similarity"] == pytest.approx(math.sqrt(0.5), abs=1e-4)

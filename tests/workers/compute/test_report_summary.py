"""The report's one-line summary: the verdict, and whose voice the vocals resemble."""

from __future__ import annotations

from workers.compute.report import build_report


def report(verdict: str, *matches: tuple[str, bool]) -> dict:
    listed = [
        {"artist_id": n, "name": n, "similarity": 0.9, "match": m, "sections": []}
        for n, m in matches
    ]
    return build_report([{"verdict": verdict}, {"artist_matches": listed}])


def test_a_synthetic_track_whose_top_match_is_an_artist_names_the_artist():
    assert report("likely_synthetic", ("Ada", True), ("Grace", False))["summary"] == (
        "synthetic vocals resembling Ada (similarity 0.90)"
    )


def test_a_synthetic_track_resembling_nobody_known_says_so():
    summary = report("likely_synthetic", ("Ada", False))["summary"]
    assert summary == "likely synthetic; the vocals resemble no artist in the gallery"
    assert report("likely_synthetic")["summary"] == summary


def test_other_verdicts_mention_a_matching_artist_without_calling_it_synthetic():
    assert report("likely_authentic", ("Ada", True))["summary"] == (
        "likely authentic; the vocals resemble Ada (similarity 0.90)"
    )
    assert report("inconclusive", ("Ada", False))["summary"] == "inconclusive"
    assert build_report([])["summary"] == "inconclusive"


def test_a_match_names_its_evidence_similarity_threshold_vocals_and_sections():
    match = {"artist_id": "a", "name": "Ada", "similarity": 0.912, "match": True}
    match["sections"] = [{"start": 0.0, "end": 15.0, "similarity": 0.93}]
    summary = build_report(
        [
            {"verdict": "inconclusive"},
            {
                "artist_matches": [match],
                "identification": {"vocal_seconds": 41.6, "sections": 3},
                "thresholds": {"artist_match": 0.87},
            },
        ]
    )["summary"]
    assert summary == (
        "inconclusive; the vocals resemble Ada (similarity 0.91 >= 0.87, 42 s of vocals, "
        "1 of 3 sections over the threshold)"
    )

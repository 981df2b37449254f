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
        "synthetic vocals resembling Ada"
    )


def test_a_synthetic_track_resembling_nobody_known_says_so():
    summary = report("likely_synthetic", ("Ada", False))["summary"]
    assert summary == "likely synthetic; the vocals resemble no artist in the gallery"
    assert report("likely_synthetic")["summary"] == summary


def test_other_verdicts_mention_a_matching_artist_without_calling_it_synthetic():
    assert report("likely_authentic", ("Ada", True))["summary"] == (
        "likely authentic; the vocals resemble Ada"
    )
    assert report("inconclusive", ("Ada", False))["summary"] == "inconclusive"
    assert build_report([])["summary"] == "inconclusive"

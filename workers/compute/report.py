"""The report of a succeeded job, assembled from the fragments each stage contributed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

LIKELY_SYNTHETIC = "likely_synthetic"
LIKELY_AUTHENTIC = "likely_authentic"
INCONCLUSIVE = "inconclusive"

# The one time resolution of every series in the report's timeline.
TIMELINE_HOP_SECONDS = 1.0


def empty_report() -> dict[str, Any]:
    """What a report says before any stage adds to it: nothing scored, nothing decided."""
    return {
        "verdict": INCONCLUSIVE,
        "scores": {"vocals": None, "mixture": None, "overall": None},
        "thresholds": {"vocals": None, "mixture": None, "mixture_authentic": None},
        "reasons": [],
        "regions": [],
        "artist_matches": [],
        "timeline": {
            "hop_seconds": TIMELINE_HOP_SECONDS,
            "vocals": [],
            "mixture": [],
            "vocal_activity": [],
        },
        "audio": {},
        "models": {},
        "artifacts": {},
        "warnings": [],
    }


def build_report(fragments: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Merge stage fragments in pipeline order: dicts merge key by key, lists of warnings
    add up, and any other value is set by the stage that owns it."""
    report = empty_report()
    for fragment in fragments:
        _merge(report, fragment)
    report["summary"] = summarize(report)
    return report


def summarize(report: dict[str, Any]) -> str:
    """One sentence a person reads first: the verdict and whose voice the vocals resemble
    ("synthetic vocals resembling NAME" for a synthetic track whose top match is an artist
    of the gallery), with the evidence for the match: similarity against the threshold,
    seconds of vocals and sections."""
    matches = report.get("artist_matches") or []
    top = matches[0] if matches and matches[0].get("match") else None
    name = f"{top['name']} ({_match_evidence(report, top)})" if top else None
    verdict = report.get("verdict")
    if verdict == LIKELY_SYNTHETIC:
        return (
            f"synthetic vocals resembling {name}"
            if name
            else ("likely synthetic; the vocals resemble no artist in the gallery")
        )
    said = "likely authentic" if verdict == LIKELY_AUTHENTIC else "inconclusive"
    return f"{said}; the vocals resemble {name}" if name else said


def _match_evidence(report: dict[str, Any], match: dict[str, Any]) -> str:
    """ "similarity 0.91 >= 0.87 over 42 s of vocals, 2 of 3 sections": what a match rests on."""
    threshold = (report.get("thresholds") or {}).get("artist_match")
    ident = report.get("identification") or {}
    parts = [f"similarity {match['similarity']:.2f}"]
    if threshold is not None:
        parts[0] += f" >= {threshold:.2f}" if match["similarity"] >= threshold else ""
    if "vocal_seconds" in ident:
        parts.append(f"{ident['vocal_seconds']:.0f} s of vocals")
    sections = len(match.get("sections") or [])
    if sections and ident.get("sections"):
        parts.append(f"{sections} of {ident['sections']} sections over the threshold")
    return ", ".join(parts)


def _merge(into: dict[str, Any], fragment: dict[str, Any]) -> None:
    for key, value in fragment.items():
        if key == "warnings":
            into.setdefault("warnings", []).extend(value)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value

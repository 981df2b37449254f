"""Enrolment quality: whether an artist's references hold enough voice and agree on one voice.

The assessment is computed, never stored: from the ``embedding`` and ``vocal_seconds`` that
enrolment keeps on each ready reference, so the enrolment job's result, ``GET
/v1/artists/{id}`` and ``soundscape artists import`` read the same figures the same way. It
runs in plain Python (256 numbers a reference), like the voiceprints: the API loads no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.tables import Artist, ArtistReference

# The least voice a track is judged on (five vocal-active 1.6 s windows every 0.8 s:
# workers.compute.identification.min_vocal_seconds); under it a track is
# `insufficient_vocals`, and a reference is not enrolled at all (no_vocals).
MATCH_MIN_VOCAL_SECONDS = 4.8
# The figures behind these choices: README "Enrolment quality", printed by
# scripts/measure_enrolment_quality.py. On Jonathan Coulton's songs, a stretch of N s of his
# voice matches the voiceprint of his other songs (>= 0.87) 53 % of the time at 4.8 s, 92 %
# at 10.4 s, every time from 29.6 s.
# A reference with less voice than this is named: its embedding is uncertain.
REFERENCE_MIN_VOCAL_SECONDS = round(2 * MATCH_MIN_VOCAL_SECONDS, 2)  # 9.6
# An artist whose references hold less voice than this in all is warned.
ARTIST_MIN_VOCAL_SECONDS = round(6 * MATCH_MIN_VOCAL_SECONDS, 2)  # 28.8
# Two references of one artist disagree under this similarity: set as the match threshold
# was, the lowest same-voice reference pair measured (0.83, a reading's two 8.8 s halves)
# less 0.03, so none of the 26 same-voice pairs measured (speech and song) is warned.
PAIR_THRESHOLD = 0.80
# A reference under this similarity to the voiceprint of the artist's other references would
# not match them: the speaker encoder's match threshold (resemblyzer-ge2e, manifest.yaml).
OUTLIER_THRESHOLD = 0.87

NO_REFERENCES = "no_references"
TOO_LITTLE_VOCALS = "too_little_vocals"
REFERENCE_TOO_LITTLE_VOCALS = "reference_too_little_vocals"
SINGLE_REFERENCE = "single_reference"
REFERENCES_DISAGREE = "references_disagree"
REFERENCE_OUTLIER = "reference_outlier"


@dataclass(frozen=True)
class ReferenceVoice:
    """What enrolment kept of one ready reference: its voice embedding and seconds of voice."""

    reference_id: str
    vocal_seconds: float
    embedding: Sequence[float]


@dataclass(frozen=True)
class QualityWarning:
    """One thing to fix: a stable ``code``, a sentence, and the figures behind it."""

    code: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.figures}


@dataclass(frozen=True)
class EnrolmentQuality:
    """An artist's enrolment: ``references`` ready, their ``vocal_seconds`` in all, each
    reference's seconds and similarity to the voiceprint of the others (None with one
    reference), the least similar pair (None with fewer than two), and the ``warnings``."""

    references: int
    vocal_seconds: float
    per_reference: tuple[dict[str, Any], ...]
    lowest_pair: dict[str, Any] | None
    warnings: tuple[QualityWarning, ...]

    @property
    def codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "warning" if self.warnings else "ok",
            "references": self.references,
            "vocal_seconds": self.vocal_seconds,
            "min_vocal_seconds": ARTIST_MIN_VOCAL_SECONDS,
            "reference_min_vocal_seconds": REFERENCE_MIN_VOCAL_SECONDS,
            "pair_threshold": PAIR_THRESHOLD,
            "outlier_threshold": OUTLIER_THRESHOLD,
            "lowest_agreement": self.lowest_pair,
            "per_reference": list(self.per_reference),
            "warnings": [w.to_json() for w in self.warnings],
        }


def assess(voices: Sequence[ReferenceVoice]) -> EnrolmentQuality:
    """The enrolment quality of an artist whose ready references are ``voices``."""
    total = round(sum(v.vocal_seconds for v in voices), 2)
    warnings = _vocal_warnings(voices, total)
    units = [_unit(v.embedding) for v in voices]
    similarity = _similarities(units)
    to_others = _to_others(units)
    lowest = None
    if len(voices) == 1:
        warnings.append(
            QualityWarning(
                SINGLE_REFERENCE,
                "one reference: whether the artist's recordings agree on one voice cannot be "
                "checked; enrol a second recording",
            )
        )
    elif len(voices) > 1:
        (a, b), value = min(similarity.items(), key=lambda item: item[1])
        pair = [voices[a].reference_id, voices[b].reference_id]
        lowest = {"reference_ids": pair, "similarity": round(value, 4)}
        warnings += _agreement_warnings(voices, pair, value, to_others)
    per_reference = tuple(
        {
            "reference_id": v.reference_id,
            "vocal_seconds": v.vocal_seconds,
            "similarity_to_others": None if other is None else round(other, 4),
        }
        for v, other in zip(voices, to_others, strict=True)
    )
    return EnrolmentQuality(len(voices), total, per_reference, lowest, tuple(warnings))


def _vocal_warnings(voices: Sequence[ReferenceVoice], total: float) -> list[QualityWarning]:
    if not voices:
        return [
            QualityWarning(
                NO_REFERENCES,
                "no reference is enrolled: the artist is matched against no track until one is",
            )
        ]
    warnings = []
    if total < ARTIST_MIN_VOCAL_SECONDS:
        warnings.append(
            QualityWarning(
                TOO_LITTLE_VOCALS,
                f"{total:.1f} s of vocals in all, under {ARTIST_MIN_VOCAL_SECONDS:.1f} s: "
                "enrol more recordings of the artist's voice",
                {"vocal_seconds": total, "min_vocal_seconds": ARTIST_MIN_VOCAL_SECONDS},
            )
        )
    for voice in voices:
        if voice.vocal_seconds < REFERENCE_MIN_VOCAL_SECONDS:
            warnings.append(
                QualityWarning(
                    REFERENCE_TOO_LITTLE_VOCALS,
                    f"reference {voice.reference_id} holds {voice.vocal_seconds:.1f} s of "
                    f"vocals, under {REFERENCE_MIN_VOCAL_SECONDS:.1f} s: its voice is uncertain",
                    {
                        "reference_id": voice.reference_id,
                        "vocal_seconds": voice.vocal_seconds,
                        "min_vocal_seconds": REFERENCE_MIN_VOCAL_SECONDS,
                    },
                )
            )
    return warnings


def _agreement_warnings(
    voices: Sequence[ReferenceVoice],
    pair: list[str],
    lowest: float,
    to_others: list[float | None],
) -> list[QualityWarning]:
    warnings = []
    if lowest < PAIR_THRESHOLD:
        warnings.append(
            QualityWarning(
                REFERENCES_DISAGREE,
                f"references {pair[0]} and {pair[1]} are {lowest:.2f} alike, under "
                f"{PAIR_THRESHOLD}: check that both are the artist's voice",
                {
                    "reference_ids": pair,
                    "similarity": round(lowest, 4),
                    "threshold": PAIR_THRESHOLD,
                },
            )
        )
    # With two references the pair is all there is: which one is wrong cannot be told. With
    # more, only the least like the others is named: the others' figures are pulled down by it
    # (each is compared with a voiceprint it is part of); remove it and look again.
    if len(voices) < 3:
        return warnings
    worst = min(range(len(voices)), key=lambda i: to_others[i] or 0.0)
    similarity = to_others[worst]
    if similarity is not None and similarity < OUTLIER_THRESHOLD:
        reference_id = voices[worst].reference_id
        warnings.append(
            QualityWarning(
                REFERENCE_OUTLIER,
                f"reference {reference_id} is {similarity:.2f} alike the voiceprint of the "
                f"artist's other references, under {OUTLIER_THRESHOLD}: it would not match "
                "them; it may be another voice, or hold little voice; remove it if so",
                {
                    "reference_id": reference_id,
                    "similarity_to_others": round(similarity, 4),
                    "threshold": OUTLIER_THRESHOLD,
                },
            )
        )
    return warnings


def _similarities(units: list[list[float]]) -> dict[tuple[int, int], float]:
    """Cosine similarity of every pair (i, j), i < j, of unit vectors."""
    return {(i, j): _dot(units[i], units[j]) for i, j in combinations(range(len(units)), 2)}


def _to_others(units: list[list[float]]) -> list[float | None]:
    """Each reference's cosine similarity with the voiceprint of the others (their normalised
    mean, as the artist's voiceprint is made): would it match them? None with one."""
    if len(units) < 2:
        return [None] * len(units)
    total = [sum(column) for column in zip(*units, strict=True)]
    return [_dot(unit, _unit([t - u for t, u in zip(total, unit, strict=True)])) for unit in units]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def artist_quality(session: Session, artist: Artist) -> EnrolmentQuality:
    """The enrolment quality of ``artist`` from its ready references (oldest first)."""
    rows = session.execute(
        select(ArtistReference.id, ArtistReference.vocal_seconds, ArtistReference.embedding)
        .where(ArtistReference.artist_id == artist.id, ArtistReference.embedding.is_not(None))
        .order_by(ArtistReference.created_at, ArtistReference.id)
    ).all()
    return assess([ReferenceVoice(str(r.id), r.vocal_seconds or 0.0, r.embedding) for r in rows])

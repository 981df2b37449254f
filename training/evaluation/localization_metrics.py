"""Localization metrics, as defined for sound-event detection (Mesaros et al., 2016, "Metrics
for polyphonic sound event detection"; sed_eval), for one class: "synthetic".

Segment-based: the track is cut into segments of ``resolution`` seconds; a segment is active
in the reference (or the estimate) when any reference (estimated) region overlaps it. True
positives, false positives and false negatives are counted over the segments of every file.

Event-based: an estimated region matches a reference region when both its onset and its
offset lie within ``collar`` seconds of the reference's; each region matches at most one
other (a maximum one-to-one matching). Unmatched estimates are false positives, unmatched
references false negatives.

Both F1 scores are micro-averaged over files: F1 = 2 TP / (2 TP + FP + FN); None when
there is nothing to count (no region in the reference nor in the estimate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Span = tuple[float, float]

SEGMENT_SECONDS = 1.0
COLLAR_SECONDS = 0.5


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return None if denominator == 0 else 2 * self.tp / denominator


def active_segments(spans: Sequence[Span], duration: float, resolution: float) -> list[bool]:
    """Whether each segment [k*resolution, (k+1)*resolution) of the track overlaps a span."""
    n = max(0, math.ceil(round(duration / resolution, 6)))
    active = [False] * n
    for start, end in spans:
        first = max(0, math.floor(start / resolution))
        last = min(n, math.ceil(end / resolution))
        for k in range(first, last):
            if min(end, (k + 1) * resolution) > max(start, k * resolution):
                active[k] = True
    return active


def segment_counts(
    reference: Sequence[Span],
    estimate: Sequence[Span],
    duration: float,
    resolution: float = SEGMENT_SECONDS,
) -> Counts:
    ref = active_segments(reference, duration, resolution)
    est = active_segments(estimate, duration, resolution)
    return Counts(
        tp=sum(r and e for r, e in zip(ref, est, strict=True)),
        fp=sum(e and not r for r, e in zip(ref, est, strict=True)),
        fn=sum(r and not e for r, e in zip(ref, est, strict=True)),
    )


def event_counts(
    reference: Sequence[Span], estimate: Sequence[Span], collar: float = COLLAR_SECONDS
) -> Counts:
    """Counts of the maximum one-to-one matching within the onset/offset collar."""
    candidates = [
        [
            j
            for j, (e_start, e_end) in enumerate(estimate)
            if abs(e_start - r_start) <= collar and abs(e_end - r_end) <= collar
        ]
        for r_start, r_end in reference
    ]
    matched_to: dict[int, int] = {}  # estimate index -> reference index

    def augment(r: int, seen: set[int]) -> bool:
        for j in candidates[r]:
            if j in seen:
                continue
            seen.add(j)
            if j not in matched_to or augment(matched_to[j], seen):
                matched_to[j] = r
                return True
        return False

    tp = sum(augment(r, set()) for r in range(len(reference)))
    return Counts(tp=tp, fp=len(estimate) - tp, fn=len(reference) - tp)

"""Where the singer sings in a real song: its karaoke note file (UltraStar format).

The songs of ``../shared/audio/songs`` come with UltraStar note files. Each note line is
``<type> <start beat> <length in beats> <pitch> <syllable>``; a beat lasts
``60 / (4 * BPM)`` seconds and beat 0 falls at ``#GAP`` milliseconds. Type ``:`` is a
normal note, ``*`` a golden one, ``F`` freestyle, ``R`` and ``G`` rap: all are sung.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTE = re.compile(r"^[:*FRG]\s+(-?\d+)\s+(\d+)")


class NotesError(ValueError):
    """A note file this parser cannot read (no BPM, relative timing, no notes)."""


def _number(text: str) -> float:
    return float(text.strip().replace(",", "."))


def sung_spans(path: Path) -> list[tuple[float, float]]:
    """(start, end) in seconds of every sung note of an UltraStar file, in file order."""
    bpm: float | None = None
    gap = 0.0
    spans: list[tuple[float, float]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.upper().startswith("#RELATIVE:") and line.split(":", 1)[1].strip().lower() == "yes":
            raise NotesError(f"{path.name}: relative note timing is not supported")
        if line.upper().startswith("#BPM:"):
            bpm = _number(line.split(":", 1)[1])
        elif line.upper().startswith("#GAP:"):
            gap = _number(line.split(":", 1)[1]) / 1000.0
        match = NOTE.match(line)
        if match is None:
            continue
        if bpm is None or bpm <= 0:
            raise NotesError(f"{path.name}: a note comes before a positive #BPM")
        beat = 60.0 / (4.0 * bpm)
        first, length = int(match.group(1)), int(match.group(2))
        spans.append((gap + first * beat, gap + (first + length) * beat))
    if not spans:
        raise NotesError(f"{path.name}: no sung notes")
    return spans


def sung_phrases(
    spans: list[tuple[float, float]], join_gap: float = 1.0
) -> list[tuple[float, float]]:
    """Notes joined into phrases wherever the singer pauses less than ``join_gap`` seconds."""
    phrases: list[list[float]] = []
    for start, end in sorted(spans):
        if phrases and start - phrases[-1][1] < join_gap:
            phrases[-1][1] = max(phrases[-1][1], end)
        else:
            phrases.append([start, end])
    return [(a, b) for a, b in phrases]

"""Artist identification: embed the vocal-active parts of a vocal stem with a speaker encoder,
and match the track's voice, and each section's, against a gallery of voiceprints.

A voice embedding is the L2-normalised mean of the encoder's window embeddings (as
Resemblyzer's ``embed_utterance`` does), over the windows that are at least
MIN_ACTIVE_FRACTION vocal-active; windows of silence or accompaniment would pull every
voice towards the same place. The track is also cut into sections of SECTION_SECONDS, each
embedded on its own, so that a featured verse by a second voice is found even when the
track-wide mean belongs to the lead singer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from workers.compute.audio import resample, to_mono
from workers.compute.windows import extract_windows, window_starts
from workers.networks.roles import SpeakerEncoder

WINDOW_HOP_SECONDS = 0.8  # half a 1.6 s GE2E window, about Resemblyzer's own partial rate
MIN_ACTIVE_FRACTION = 0.5
SECTION_SECONDS = 15.0
# A section, or a whole track, needs this many vocal windows (about 4 s of voice) before its
# embedding says anything about whose voice it is.
MIN_WINDOWS = 5
TOP_K = 5
# The three answers a gallery artist gets: matched, not matched, or not judged because the
# track has too little voice to embed (fewer than MIN_WINDOWS vocal-active windows).
MATCH, NO_MATCH, INSUFFICIENT_VOCALS = "match", "no_match", "insufficient_vocals"


def min_vocal_seconds(window_seconds: float) -> float:
    """The least voice that can be embedded: MIN_WINDOWS windows of ``window_seconds`` in a
    row (more when the vocal-active windows are scattered)."""
    return round(window_seconds + (MIN_WINDOWS - 1) * WINDOW_HOP_SECONDS, 2)


BATCH_SIZE = 32


class VocalActivityLike(Protocol):
    """workers.compute.vocal_activity.VocalActivity, or anything answering the same question."""

    def fraction_active(self, start_s: float, end_s: float) -> float: ...


@dataclass(frozen=True)
class Section:
    """A stretch of the track [start, end) seconds and its voice embedding (dim,)."""

    start: float
    end: float
    vector: np.ndarray
    windows: int


@dataclass(frozen=True)
class VoiceEmbedding:
    """The voice of a vocal stem: ``track`` (dim,) unit vector, or None when fewer than
    MIN_WINDOWS windows carry vocals; ``sections`` with enough vocals of their own;
    ``windows`` embedded and the ``vocal_seconds`` they cover (overlaps counted once)."""

    track: np.ndarray | None
    sections: tuple[Section, ...]
    windows: int
    vocal_seconds: float


@dataclass(frozen=True)
class Gallery:
    """A tenant's voiceprints: ``matrix`` (N, dim) float32 unit rows, row i is artist
    ``ids[i]`` named ``names[i]``."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    matrix: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class ArtistMatch:
    """One artist of the top k: track-wide cosine ``similarity``, ``match`` when it or any
    section reaches the threshold, and the ``sections`` (start, end, similarity) that do."""

    artist_id: str
    name: str
    similarity: float
    match: bool
    sections: tuple[tuple[float, float, float], ...]

    @property
    def answer(self) -> str:
        return MATCH if self.match else NO_MATCH

    def to_json(self) -> dict[str, Any]:
        return {
            "artist_id": self.artist_id,
            "name": self.name,
            "similarity": round(self.similarity, 4),
            "match": self.match,
            "answer": self.answer,
            "sections": [
                {"start": start, "end": end, "similarity": round(sim, 4)}
                for start, end, sim in self.sections
            ],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ArtistMatch:
        sections = tuple((s["start"], s["end"], s["similarity"]) for s in raw["sections"])
        return cls(raw["artist_id"], raw["name"], raw["similarity"], raw["match"], sections)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to unit length; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def voiceprint(embeddings: Sequence[Sequence[float]]) -> np.ndarray:
    """An artist's voiceprint: the normalised mean of its references' embeddings."""
    return normalise(np.asarray(embeddings, dtype=np.float32).mean(axis=0))


def embed_vocals(
    vocals: np.ndarray,
    sample_rate: int,
    encoder: SpeakerEncoder,
    activity: VocalActivityLike | None = None,
) -> VoiceEmbedding:
    """The voice of ``vocals`` (channels, n) or (n,) float32 at ``sample_rate``.

    Windows of ``encoder.window`` samples every WINDOW_HOP_SECONDS, kept when at least
    MIN_ACTIVE_FRACTION vocal-active (all of them without ``activity``: clean speech).
    """
    import torch

    mono = to_mono(np.asarray(vocals, dtype=np.float32))
    mono = resample(mono, sample_rate, encoder.sample_rate)
    rate, window = encoder.sample_rate, encoder.window
    hop = round(WINDOW_HOP_SECONDS * rate)
    usable = len(mono) >= window // 2  # under 0.8 s there is no voice to speak of
    starts = window_starts(len(mono), window, hop) if usable else np.zeros(0, np.int64)
    begins = starts / rate
    ends = np.minimum(starts + window, len(mono)) / rate
    if activity is not None:
        keep = np.array(
            [
                activity.fraction_active(b, e) >= MIN_ACTIVE_FRACTION
                for b, e in zip(begins, ends, strict=True)
            ],
            dtype=bool,
        )
        starts, begins, ends = starts[keep], begins[keep], ends[keep]
    if len(starts) == 0:
        return VoiceEmbedding(None, (), 0, 0.0)
    vectors = [
        encoder.encode_batch(torch.from_numpy(extract_windows(mono, batch, window))).numpy()
        for batch in np.array_split(starts, -(-len(starts) // BATCH_SIZE))
    ]
    embeddings = np.concatenate(vectors).astype(np.float32)
    track = normalise(embeddings.mean(axis=0)) if len(embeddings) >= MIN_WINDOWS else None
    return VoiceEmbedding(
        track, _sections(embeddings, begins, ends), len(embeddings), _covered(begins, ends)
    )


def _sections(embeddings: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> tuple[Section, ...]:
    index = np.floor(begins / SECTION_SECONDS).astype(int)
    sections = []
    for number in np.unique(index):
        rows = index == number
        if rows.sum() >= MIN_WINDOWS:
            start = float(number * SECTION_SECONDS)
            end = round(min(start + SECTION_SECONDS, float(ends[rows].max())), 2)
            vector = normalise(embeddings[rows].mean(axis=0))
            sections.append(Section(start, end, vector, int(rows.sum())))
    return tuple(sections)


def _covered(begins: np.ndarray, ends: np.ndarray) -> float:
    """Seconds covered by the union of the windows [begin, end)."""
    total, reach = 0.0, 0.0
    for begin, end in zip(begins, ends, strict=True):
        total += max(0.0, end - max(begin, reach))
        reach = max(reach, end)
    return round(total, 2)


def match_voice(
    voice: VoiceEmbedding, gallery: Gallery, threshold: float, top_k: int = TOP_K
) -> list[ArtistMatch]:
    """The ``top_k`` artists whose voiceprint is closest to the track's voice or to one of
    its sections, best first (matches before near misses): one matrix product of the
    track's and sections' embeddings against the whole gallery."""
    if voice.track is None or len(gallery) == 0:
        return []
    queries = np.vstack([voice.track, *(s.vector for s in voice.sections)])
    sims = queries @ gallery.matrix.T  # (1 + sections, N)
    track_sims, section_sims = sims[0], sims[1:]
    best = np.maximum(track_sims, section_sims.max(axis=0)) if len(section_sims) else track_sims
    k = min(top_k, len(gallery))
    top = np.argpartition(-best, k - 1)[:k]
    top = top[np.argsort(-best[top])]
    matches = []
    for column in top:
        sections = tuple(
            (s.start, s.end, float(section_sims[row, column]))
            for row, s in enumerate(voice.sections)
            if section_sims[row, column] >= threshold
        )
        similarity = float(track_sims[column])
        matches.append(
            ArtistMatch(
                gallery.ids[column],
                gallery.names[column],
                similarity,
                similarity >= threshold or bool(sections),
                sections,
            )
        )
    return matches

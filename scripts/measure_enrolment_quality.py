"""Measure the figures behind the enrolment-quality thresholds (app/services/enrolment.py) on
../shared/audio, through the service's path (decode, separate, vocal-active 1.6 s windows,
speaker encoder), and print them as JSON.

- seconds of voice: a stretch of N windows of one of Jonathan Coulton's six songs against the
  voiceprint of his five other songs (20 random stretches a song); the same for speech (the
  LibriSpeech readers' and espeak-ng voices' two parts, each against the other);
- pairs of references: cosine similarity of every pair of whole references, same voice and
  different voices (a reader's two halves, an espeak-ng voice's two texts, Coulton's songs);
- outliers: each reference against the voiceprint of the others, for Coulton's six songs, and
  for a reference of another voice among a voice's references.

    .venv/bin/python scripts/measure_enrolment_quality.py
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calibrate_artist_threshold import (  # noqa: E402
    AUDIO,
    COULTON,
    ESPEAK_TEXTS,
    ESPEAK_VOICES,
    OTHER_SINGERS,
    READERS,
    espeak,
)

from app.config import load_settings  # noqa: E402
from workers.compute.audio import resample, to_mono  # noqa: E402
from workers.compute.canonical import CANONICAL_RATE, ingest_file  # noqa: E402
from workers.compute.identification import (  # noqa: E402
    MIN_ACTIVE_FRACTION,
    WINDOW_HOP_SECONDS,
    normalise,
)
from workers.compute.separation import separate  # noqa: E402
from workers.compute.windows import extract_windows, window_starts  # noqa: E402
from workers.networks.registry import load_model, model_name  # noqa: E402
from workers.networks.separators import load_separator  # noqa: E402

MATCH = 0.87
STRETCHES = 20
Windows = np.ndarray  # (n, 256) window embeddings of one reference


def window_embeddings(
    path: Path, encoder: Any, separator: Any, warnings: Any, **cut: float
) -> Windows:
    """The vocal-active windows' embeddings of ``path`` (the excerpt [start, end) seconds)."""
    import torch

    track = ingest_file(path, 1200.0)
    first = int(cut.get("start", 0.0) * CANONICAL_RATE)
    last = int(cut["end"] * CANONICAL_RATE) if "end" in cut else None
    parts = separate(track.canonical[:, first:last], CANONICAL_RATE, separator, warnings)
    mono = resample(to_mono(parts.vocals), parts.sample_rate, encoder.sample_rate)
    rate, window = encoder.sample_rate, encoder.window
    starts = window_starts(len(mono), window, round(WINDOW_HOP_SECONDS * rate))
    keep = [
        parts.activity.fraction_active(s / rate, min(s + window, len(mono)) / rate)
        >= MIN_ACTIVE_FRACTION
        for s in starts
    ]
    starts = starts[np.array(keep, dtype=bool)]
    with torch.inference_mode():
        batch = torch.from_numpy(extract_windows(mono, starts, window))
        return np.asarray(encoder.encode_batch(batch).numpy(), dtype=np.float32)


def voices(encoder: Any, separator: Any, warnings: Any) -> dict[str, list[Windows]]:
    """Each voice's references: a reader's two halves, an espeak-ng voice's two texts, each
    of Coulton's songs, the other singers' one song each."""
    out: dict[str, list[Windows]] = {}

    def embed(path: Path, **cut: float) -> Windows:
        return window_embeddings(path, encoder, separator, warnings, **cut)

    for name in READERS:
        half = ingest_file(AUDIO / name, 1200.0).info.duration_seconds / 2
        out[f"reader {name}"] = [embed(AUDIO / name, end=half), embed(AUDIO / name, start=half)]
    with tempfile.TemporaryDirectory() as tmp:
        for voice in ESPEAK_VOICES:
            paths = [
                espeak(voice, text, Path(tmp) / f"{voice}-{i}.wav")
                for i, text in enumerate(ESPEAK_TEXTS)
            ]
            out[f"espeak-ng {voice}"] = [embed(path) for path in paths]
    out["Jonathan Coulton"] = [embed(AUDIO / "songs" / f"Jonathan_Coulton_-_{s}") for s in COULTON]
    for singer, file in OTHER_SINGERS.items():
        out[singer] = [embed(AUDIO / file)]
    return out


def embedding(windows: Windows) -> np.ndarray:
    return normalise(windows.mean(axis=0))


def to_others(embeddings: list[np.ndarray]) -> list[float]:
    """Each embedding against the normalised mean of the others."""
    return [
        round(
            float(e @ normalise(np.sum([o for j, o in enumerate(embeddings) if j != i], axis=0))), 3
        )
        for i, e in enumerate(embeddings)
    ]


def seconds_of_voice(
    references: dict[str, list[Windows]], rng: np.random.Generator
) -> dict[str, Any]:
    songs = references["Jonathan Coulton"]
    prints = [embedding(w) for w in songs]
    speech = [refs for name, refs in references.items() if name.startswith(("reader", "espeak"))]
    figures: dict[str, Any] = {"singing": {}, "speech": {}}
    for n in (5, 8, 12, 18, 24, 36, 48, 72):
        sims = []
        for i, windows in enumerate(songs):
            others = normalise(np.mean([p for j, p in enumerate(prints) if j != i], axis=0))
            for start in rng.integers(0, max(1, len(windows) - n + 1), STRETCHES):
                if len(windows) >= n:
                    sims.append(float(embedding(windows[start : start + n]) @ others))
        figures["singing"][f"{1.6 + (n - 1) * 0.8:.1f} s"] = _counts(sims)
    for n in (5, 8):
        sims = []
        for a, b in speech:
            for windows, other in ((a, embedding(b)), (b, embedding(a))):
                for start in rng.integers(0, max(1, len(windows) - n + 1), 10):
                    if len(windows) >= n:
                        sims.append(float(embedding(windows[start : start + n]) @ other))
        figures["speech"][f"{1.6 + (n - 1) * 0.8:.1f} s"] = _counts(sims)
    return figures


def _counts(sims: list[float]) -> dict[str, Any]:
    return {
        "stretches": len(sims),
        "matched": sum(s >= MATCH for s in sims),
        "lowest": round(min(sims), 3),
    }


def pairs(references: dict[str, list[Windows]]) -> dict[str, Any]:
    whole = [(name, embedding(w)) for name, refs in references.items() for w in refs]
    same = sorted(
        round(float(a @ b), 3) for (n1, a), (n2, b) in itertools.combinations(whole, 2) if n1 == n2
    )
    readers = [(n, e) for n, e in whole if n.startswith("reader")]
    apart = sorted(
        round(float(a @ b), 3)
        for (n1, a), (n2, b) in itertools.combinations(readers, 2)
        if n1 != n2
    )
    coulton = [embedding(w) for w in references["Jonathan Coulton"]]
    singers = {
        singer: sorted(round(float(c @ embedding(references[singer][0])), 3) for c in coulton)
        for singer in OTHER_SINGERS
    }
    return {"same_voice": same, "different_readers": apart, "other_singers_vs_coulton": singers}


def outliers(references: dict[str, list[Windows]]) -> dict[str, Any]:
    coulton = [embedding(w) for w in references["Jonathan Coulton"]]
    figures: dict[str, Any] = {"Jonathan Coulton (6 songs)": to_others(coulton)}
    for singer in OTHER_SINGERS:
        intruder = embedding(references[singer][0])
        for n in (2, 3, 5):
            figures[f"{n} Coulton songs + {singer} (last)"] = to_others([*coulton[:n], intruder])
    readers = {
        n: [embedding(w) for w in refs] for n, refs in references.items() if n.startswith("reader")
    }
    for (own, halves), (other, theirs) in itertools.permutations(readers.items(), 2):
        figures[f"{own} halves + {other} (last)"] = to_others([*halves, theirs[0]])
    return figures


def main() -> int:
    settings = load_settings()
    encoder = load_model(
        "speaker-encoder", model_name("speaker-encoder", ""), settings.weights_dir, "cpu"
    )
    separator, warnings = load_separator(
        model_name("separator", settings.separator), settings.weights_dir, "cpu"
    )
    references = voices(encoder, separator, warnings)
    figures = {
        "seconds_of_voice": seconds_of_voice(references, np.random.default_rng(0)),
        "pairs": pairs(references),
        "to_others": outliers(references),
    }
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

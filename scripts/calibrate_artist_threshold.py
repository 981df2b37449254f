"""Calibrate the artist-match threshold of a speaker encoder on same-voice and different-voice
pairs from real recordings, run through the service's own path (decode, separate, embed).

Voices (../shared/audio, never committed):
- the three LibriSpeech readers (14-17 s each): enrolled from the first ENROL_SECONDS and
  probed with the rest, and enrolled from the last ENROL_SECONDS and probed with the start;
- eight espeak-ng voices: enrolled from one text, probed with another;
- songs: the six Jonathan Coulton songs (one singer) and one song each of Joshua Morin, Steven
  Dunston and Karissa Hobbs; a song's SECTION_SECONDS sections are probes; Coulton's print
  for a probe is made from his five other songs (leave one song out), and the other singers'
  sections never meet the print of their own (only) song.

Same-voice pairs: a probe against its own voice's print made from other audio. Different-voice
pairs: a probe against every other voice's print.

The threshold is decided on the pairs where the encoder is in its domain (speech probes, and
any pair with a speech print): the lowest same-voice similarity less MARGIN, rounded down, so
every same-voice pair matches with room for shorter or noisier probes; the false matches at
that point are counted and the closest different voices named. Pairs of separated singing
are reported at that threshold, not used to set it: with the weight-free repet-sim
separator, GE2E (trained on speech) does not tell these male singers apart. The script prints
both distributions per domain, the error counts at the threshold and the manifest line.

    .venv/bin/python scripts/calibrate_artist_threshold.py [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from workers.compute.canonical import CANONICAL_RATE, ingest_file  # noqa: E402
from workers.compute.identification import (  # noqa: E402
    VoiceEmbedding,
    embed_vocals,
    normalise,
    voiceprint,
)
from workers.compute.separation import separate  # noqa: E402
from workers.networks.registry import load_model, model_name  # noqa: E402
from workers.networks.separators import load_separator  # noqa: E402

AUDIO = ROOT.parent / "shared" / "audio"
READERS = ("198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg")
ENROL_SECONDS = 8.0
COULTON = (
    "Better.mp3",
    "Big_Bad_World_One.mp3",
    "Chiron_Beta_Prime.mp3",
    "Flickr.mp3",
    "Furry_Old_Lobster.mp3",
    "Monkey_Shines.mp3",
)
OTHER_SINGERS = {
    "Joshua Morin": "songs/Joshua_Morin_-_On_the_run.ogg",
    "Steven Dunston": "songs/Steven_Dunston_-_Northern_Star.ogg",
    "Karissa Hobbs": "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
}
ESPEAK_VOICES = ("en+m1", "en+m3", "en+f2", "en+f4", "en-us+m7", "en+klatt2", "en+Andy", "en+Annie")
ESPEAK_TEXTS = (
    "The quick brown fox jumps over the lazy dog while the band plays a slow song. "
    "Every morning she walked to the station and waited for the early train to the city.",
    "A lighthouse keeper counted the ships that passed his island through the winter. "
    "Nobody answered the letters he sent, but he kept writing them every single week.",
)
SPEECH = "speech"
MARGIN = 0.03
SINGING = "singing"


@dataclass(frozen=True)
class Voice:
    """An embedding of ``voice`` made from ``sources`` (recordings or excerpts), in ``domain``."""

    voice: str
    sources: frozenset[str]
    domain: str
    vector: np.ndarray


def voice_of(path: Path, encoder, separator, warnings, start=0.0, end=None) -> VoiceEmbedding:  # type: ignore[no-untyped-def]
    """Decode, separate and embed ``path`` (the excerpt [start, end) seconds of it)."""
    track = ingest_file(path, 1200.0)
    first = int(start * CANONICAL_RATE)
    last = None if end is None else int(end * CANONICAL_RATE)
    parts = separate(track.canonical[:, first:last], CANONICAL_RATE, separator, warnings)
    return embed_vocals(parts.vocals, parts.sample_rate, encoder, parts.activity)


def espeak(voice: str, text: str, target: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(target), text], check=True)
    return target


def collect(encoder, separator, warnings) -> tuple[list[Voice], list[Voice]]:  # type: ignore[no-untyped-def]
    """Prints and probes. Readers: enrolled from their first ENROL_SECONDS (probe: the rest)
    and from their last (probe: what comes before). espeak-ng voices: enrolled from one text,
    probed with another. Songs: a Coulton print leaves out the probe's song."""
    prints: list[Voice] = []
    probes: list[Voice] = []

    def embed(path: Path, start: float = 0.0, end: float | None = None) -> VoiceEmbedding:
        voice = voice_of(path, encoder, separator, warnings, start, end)
        assert voice.track is not None, path
        return voice

    for name in READERS:
        total = ingest_file(AUDIO / name, 1200.0).info.duration_seconds
        cut = total - ENROL_SECONDS
        for enrol, probe in (
            ((0.0, ENROL_SECONDS), (ENROL_SECONDS, total)),
            ((cut, total), (0.0, cut)),
        ):
            vector = embed(AUDIO / name, *enrol).track
            prints.append(Voice(name, _seconds(name, *enrol), SPEECH, vector))
            probed = embed(AUDIO / name, *probe).track
            probes.append(Voice(name, _seconds(name, *probe), SPEECH, probed))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ESPEAK_VOICES:
            enrol_text, probe_text = ESPEAK_TEXTS
            enrol = embed(espeak(name, enrol_text, Path(tmp) / f"{name}-a.wav")).track
            probe = embed(espeak(name, probe_text, Path(tmp) / f"{name}-b.wav")).track
            prints.append(Voice(f"espeak-ng {name}", frozenset({"text a"}), SPEECH, enrol))
            probes.append(Voice(f"espeak-ng {name}", frozenset({"text b"}), SPEECH, probe))
    songs: dict[str, np.ndarray] = {}
    for song in COULTON:
        voice = embed(AUDIO / "songs" / f"Jonathan_Coulton_-_{song}")
        songs[song] = voice.track
        probes += [
            Voice("Jonathan Coulton", frozenset({song}), SINGING, s.vector) for s in voice.sections
        ]
    for song in COULTON:
        others = [other for other in songs if other != song]
        vector = voiceprint([songs[other] for other in others])
        prints.append(Voice("Jonathan Coulton", frozenset(others), SINGING, vector))
    for singer, file in OTHER_SINGERS.items():
        voice = embed(AUDIO / file)
        prints.append(Voice(singer, frozenset({file}), SINGING, voice.track))
        probes += [Voice(singer, frozenset({file}), SINGING, s.vector) for s in voice.sections]
    return prints, probes


def _seconds(name: str, start: float, end: float) -> frozenset[str]:
    """An excerpt as the set of whole seconds it touches: excerpts that overlap share one."""
    return frozenset(f"{name}@{k}" for k in range(int(start), math.ceil(end)))


def pairs(prints: list[Voice], probes: list[Voice]) -> dict[str, tuple[list[float], list[float]]]:
    """Cosine similarities of (same-voice, different-voice) pairs by domain: ``speech`` when
    the probe or the print is speech, ``singing`` when both are separated singing. A probe
    never meets a print made from its own source (its own song, or the same excerpt)."""
    out: dict[str, tuple[list[float], list[float]]] = {SPEECH: ([], []), SINGING: ([], [])}
    for probe in probes:
        for enrolled in prints:
            if probe.sources & enrolled.sources:
                continue
            domain = SINGING if SPEECH not in (probe.domain, enrolled.domain) else SPEECH
            same, different = out[domain]
            similarity = float(normalise(probe.vector) @ enrolled.vector)
            (same if probe.voice == enrolled.voice else different).append(similarity)
            if probe.voice != enrolled.voice:
                CLOSEST.append((similarity, probe.voice, enrolled.voice))
    return out


# The closest different-voice pairs, printed so the manifest can say which voices they are.
CLOSEST: list[tuple[float, str, str]] = []


def choose_threshold(same: list[float], different: list[float]) -> float:
    """Every same-voice pair matches, with MARGIN to spare for shorter or noisier probes than
    the calibration's (the false-match rate at that point is measured and printed)."""
    return math.floor((min(same) - MARGIN) * 100) / 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    settings = load_settings()
    name = model_name("speaker-encoder", "")
    encoder = load_model("speaker-encoder", name, settings.weights_dir, "cpu")
    separator_name = model_name("separator", settings.separator)
    separator, warnings = load_separator(separator_name, settings.weights_dir, "cpu")
    prints, probes = collect(encoder, separator, warnings)
    by_domain = pairs(prints, probes)
    threshold = choose_threshold(*by_domain["speech"])
    figures: dict[str, object] = {
        "encoder": name,
        "separator": separator.info.name,
        "threshold": threshold,
    }
    for domain, (same, different) in by_domain.items():
        figures[domain] = {
            "same_voice_pairs": len(same),
            "different_voice_pairs": len(different),
            "same_voice": _quantiles(same),
            "different_voice": _quantiles(different),
            "false_matches": int(sum(s >= threshold for s in different)),
            "false_non_matches": int(sum(s < threshold for s in same)),
            "eer_threshold": _eer_threshold(same, different),
        }
    figures["closest_different_voices"] = [
        f"{sim:.3f} {probe} ~ {enrolled}" for sim, probe, enrolled in sorted(CLOSEST)[-12:][::-1]
    ]
    print(json.dumps(figures, indent=2) if args.json else _readable(figures))
    return 0


def _quantiles(values: list[float]) -> dict[str, float]:
    points = np.quantile(values, [0.0, 0.05, 0.5, 0.95, 1.0])
    names = ("min", "p05", "median", "p95", "max")
    return {name: round(float(p), 4) for name, p in zip(names, points, strict=True)}


def _eer_threshold(same: list[float], different: list[float]) -> float:
    """Where the false-match and false-non-match rates cross."""
    grid = np.linspace(0.0, 1.0, 1001)
    fmr = np.array([np.mean(np.array(different) >= t) for t in grid])
    fnmr = np.array([np.mean(np.array(same) < t) for t in grid])
    return round(float(grid[np.argmin(np.abs(fmr - fnmr))]), 3)


def _readable(figures: dict[str, Any]) -> str:
    lines = [f"{key}: {value}" for key, value in figures.items()]
    speech, singing = figures["speech"], figures["singing"]
    lines.append(
        f"\nweights/manifest.yaml:\n    threshold: {figures['threshold']}\n"
        f"    # speech: {speech['false_matches']} of {speech['different_voice_pairs']} "
        f"different-voice and {speech['false_non_matches']} of {speech['same_voice_pairs']} "
        f"same-voice pairs on the wrong side; singing: {singing['false_matches']} of "
        f"{singing['different_voice_pairs']} and {singing['false_non_matches']} of "
        f"{singing['same_voice_pairs']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

"""Choose each detector's threshold at a target false-positive rate on held-out authentic audio.

Held-out authentic audio (used for nothing else: scripts/build_eval_set.py takes the other
two LibriSpeech speakers, and tests do not tune anything):
- LibriSpeech speaker 5703 (read speech, ~15 s), scored as it is;
- "Let's Go Fishin'" (Karissa Hobbs, ~133 s, sung vocals with a band), scored as the
  service scores it: the vocal stem of the separate stage (REPET-SIM without Demucs
  weights), vocal-active windows only.

Windows are the detect stage's own (model window, 1 s hop). The threshold is placed
halfway between the authentic window score ranked just inside the allowed false positives
and the next one, so at most ``floor(fpr * n)`` authentic windows score at or above it.
A few dozen heavily overlapping windows from two recordings (28 on the first run: 12 of
speech, 16 vocal-active in the song) is a very small sample: the threshold is a rough
operating point, and the manifest's ``calibration`` note says so.

Usage:
    .venv/bin/python scripts/calibrate_thresholds.py [--model NAME ...] [--fpr 0.05] [--dry-run]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import PROJECT_ROOT, load_settings  # noqa: E402
from training.evaluation.metrics import choose_threshold  # noqa: E402
from workers.compute.audio import decode_file  # noqa: E402
from workers.networks.weights import MANIFEST_PATH, load_manifest  # noqa: E402

AUDIO_DIR = PROJECT_ROOT.parent / "shared" / "audio"
SPEECH = "5703-47212-0000.ogg"
SONG = "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
HOP_SECONDS = 1.0


def held_out_sources() -> dict[str, tuple[np.ndarray, int, Any]]:
    """Authentic audio, name -> (float32 (channels, n), sample rate, vocal activity or None).

    The song goes through the separate stage as the service runs it (the configured
    separator, REPET-SIM when Demucs weights are absent), and only its vocal-active windows
    are scored, as the detect stage does.
    """
    from workers.compute.separation import separate
    from workers.networks.registry import model_name
    from workers.networks.separators import load_separator

    settings = load_settings()
    separator, warnings = load_separator(
        model_name("separator", settings.separator), settings.weights_dir, "cpu"
    )
    song = separate(decode_file(AUDIO_DIR / SONG, 44100, 2), 44100, separator, warnings)
    print(f"song separated with {song.separator.name} {' '.join(song.warnings)}")
    return {
        f"speech {SPEECH}": (decode_file(AUDIO_DIR / SPEECH, 16000, 1), 16000, None),
        f"song vocal stem {SONG}": (song.vocals, song.sample_rate, song.activity),
    }


def calibrate(
    name: str, sources: dict[str, tuple[np.ndarray, int, Any]], target_fpr: float
) -> dict[str, Any]:
    """Score the held-out windows with ``name``; print and return what was chosen."""
    from workers.compute.detection import prepare_mono, score_windows
    from workers.networks.device import resolve_device
    from workers.networks.registry import load_model

    settings = load_settings()
    detector = load_model(
        "vocal-detector", name, settings.weights_dir, str(resolve_device(settings.device))
    )
    per_source = {}
    for label, (audio, rate, activity) in sources.items():
        mono = prepare_mono(audio, rate, detector.sample_rate)
        per_source[label] = score_windows(
            mono, detector, hop_seconds=HOP_SECONDS, activity=activity
        )
    scores = np.array([s for w in per_source.values() for s in w.scores if s is not None])
    threshold = choose_threshold(scores, target_fpr)
    achieved = float(np.mean(scores >= threshold))
    print(
        f"\n{name}: {scores.size} authentic windows, scores "
        f"min {scores.min():.4f} median {np.median(scores):.4f} max {scores.max():.4f}"
    )
    for label, windows in per_source.items():
        print(f"  {label}: {windows.n_scored} windows, track score {windows.track_score:.4f}")
    print(
        f"  threshold {threshold:.10g}: {achieved:.1%} of authentic windows at or above "
        f"(target {target_fpr:.0%})"
    )
    return {"threshold": threshold, "threshold_fpr": round(achieved, 4), "n": scores.size}


def calibration_note(n_windows: int, target_fpr: float) -> str:
    return (
        f"threshold at <= {target_fpr:.0%} FPR on {n_windows} overlapping 1 s-hop windows of "
        f"held-out authentic audio (LibriSpeech speaker 5703, ~15 s; vocal-active windows "
        f"of one song's separated vocal stem, ~133 s) by scripts/calibrate_thresholds.py; "
        f"a tiny sample from two "
        f"recordings: a rough operating point, not a measured false-positive rate"
    )


def write_manifest_keys(name: str, keys: dict[str, object], path: Path = MANIFEST_PATH) -> None:
    """Set top-level ``keys`` of model ``name``'s entry, leaving every other line as it is."""
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- name: {name}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("- name:")),
        len(lines),
    )
    key_pattern = re.compile(rf"^    ({'|'.join(map(re.escape, keys))}):")
    block = [line for line in lines[start:end] if not key_pattern.match(line)]
    while block and not block[-1].strip():
        block.pop()
    trailing = ["\n"] if end < len(lines) else []
    new = [f"    {key}: {_yaml_scalar(value)}\n" for key, value in keys.items()]
    path.write_text("".join(lines[:start] + block + new + trailing + lines[end:]))


def _yaml_scalar(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", dest="models", metavar="NAME")
    parser.add_argument("--fpr", type=float, default=0.05, help="target false-positive rate")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    args = parser.parse_args()
    names = args.models or [n for n, e in load_manifest().items() if e.role == "vocal-detector"]
    print("Held-out authentic audio: speaker 5703 and the vocal stem of one song.")
    sources = held_out_sources()
    for name in names:
        chosen = calibrate(name, sources, args.fpr)
        if not args.dry_run:
            write_manifest_keys(
                name,
                {
                    "threshold": chosen["threshold"],
                    "threshold_fpr": chosen["threshold_fpr"],
                    "calibration": calibration_note(chosen["n"], args.fpr),
                },
            )
            print(f"  written to {MANIFEST_PATH.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build a small labelled sanity-check set (real/ and fake/ folders) from ../shared/audio.

real/: LibriSpeech read speech of two speakers (198, 3436), cut into 4-6 s clips.
fake/: espeak-ng formant speech (varied voices, speeds, pitches and texts) and Griffin-Lim
       re-synthesis of every real clip (the STFT magnitude kept, the phase re-estimated).

THIS IS A SANITY CHECK, NOT A CLAIM ABOUT REAL DEEPFAKES. espeak-ng and Griffin-Lim are
crude, old synthesis methods with obvious artefacts; modern voice clones are far harder.
Passing here shows that the windowing, score direction and aggregate work end to end; it
says nothing about accuracy on cloned singing. Speaker 5703 and the song are left out:
scripts/calibrate_thresholds.py holds them out for choosing thresholds.

Clips are 16 kHz mono 16-bit WAV. Usage:
    .venv/bin/python scripts/build_eval_set.py [--out .soundscape/eval-set]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import PROJECT_ROOT  # noqa: E402
from workers.compute.audio import decode_file  # noqa: E402

RATE = 16000
AUDIO_DIR = PROJECT_ROOT.parent / "shared" / "audio"
REAL_SPEAKERS = ("198-209-0000.ogg", "3436-172162-0000.ogg")
CLIP_SECONDS = 5.0  # target; each recording is split into equal clips of 4-6 s

ESPEAK = [  # (voice, words per minute, pitch 0-99, text)
    ("en-us+f3", 160, 60, "The river was quiet that morning, and the boats waited by the pier."),
    ("en-gb+m3", 140, 40, "He said he would come back before the winter, but nobody believed him."),
    (
        "en-gb-scotland+f2",
        170,
        70,
        "Every song on the record was written in a single week in June.",
    ),
    ("en-029+m1", 150, 30, "Please keep the tickets until the end of the journey, thank you."),
    ("en-gb-x-rp+m7", 130, 50, "I remember the smell of rain on the old wooden porch at night."),
    ("en-us+f5", 180, 80, "She played the melody twice, slower the second time, and then stopped."),
]


def cut_clips(samples: np.ndarray) -> list[np.ndarray]:
    """Split mono (n,) into equal consecutive clips of about CLIP_SECONDS (4-6 s for >=4 s)."""
    count = max(1, round(len(samples) / (CLIP_SECONDS * RATE)))
    return [c for c in np.array_split(samples, count) if len(c) >= RATE]


def griffin_lim(samples: np.ndarray) -> np.ndarray:
    """Keep the STFT magnitude (512-point, hop 128), re-estimate phase (32 iterations)."""
    import librosa

    magnitude = np.abs(librosa.stft(samples, n_fft=512, hop_length=128))
    out = librosa.griffinlim(
        magnitude, n_iter=32, hop_length=128, n_fft=512, length=len(samples), random_state=0
    )
    return out.astype(np.float32)


def espeak(voice: str, speed: int, pitch: int, text: str) -> np.ndarray:
    """Synthesise ``text`` with espeak-ng; float32 mono (n,) at RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tts.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        return decode_file(wav, RATE, 1)[0]


def write(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    peak = float(np.max(np.abs(samples))) or 1.0
    sf.write(path, samples / max(peak, 1.0), RATE, subtype="PCM_16")


def build(out: Path) -> dict[str, int]:
    """Write the set under ``out``; returns the number of clips per kind."""
    counts = {"real": 0, "fake/griffin-lim": 0, "fake/espeak-ng": 0}
    for name in REAL_SPEAKERS:
        recording = decode_file(AUDIO_DIR / name, RATE, 1)[0]
        for index, clip in enumerate(cut_clips(recording)):
            stem = f"{Path(name).stem}_{index:02d}"
            write(out / "real" / f"{stem}.wav", clip)
            write(out / "fake" / "griffin-lim" / f"{stem}_gl.wav", griffin_lim(clip))
            counts["real"] += 1
            counts["fake/griffin-lim"] += 1
    for index, (voice, speed, pitch, text) in enumerate(ESPEAK):
        write(
            out / "fake" / "espeak-ng" / f"espeak_{index:02d}.wav",
            espeak(voice, speed, pitch, text),
        )
        counts["fake/espeak-ng"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / ".soundscape" / "eval-set")
    args = parser.parse_args()
    counts = build(args.out)
    for kind, count in counts.items():
        print(f"{kind:<18}{count:>4} clips")
    print(f"written to {args.out}")
    print(
        "Sanity check only: espeak-ng and Griffin-Lim are crude synthesis, not modern "
        "voice clones; figures on this set say nothing about real deepfakes."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

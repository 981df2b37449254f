"""What the service says about real recordings: verdict, mixture and vocal scores per file.

Runs ``soundscape analyze --json`` (the whole pipeline on the embedded default: decode,
separation, identification, detection, localization) on the first ``--seconds`` of every
audio file under the given folders and prints one row per file, then how many came out
``likely_synthetic``. Used for the README's figures on ../shared/audio (real songs and
recordings, none of them generated).

Usage:
    .venv/bin/python scripts/score_songs.py [FOLDER ...] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "audio" / "songs"
SUFFIXES = {".mp3", ".ogg", ".flac", ".wav", ".m4a", ".opus"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--seconds", type=float, default=60.0, help="score this much of each file")
    args = parser.parse_args()
    files = sorted(p for f in args.folders for p in f.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        print(f"no audio files under {', '.join(map(str, args.folders))}", file=sys.stderr)
        return 1
    print(f"{'file':<48}{'verdict':<18}{'mixture':>9}{'vocals':>9}")
    synthetic = 0
    with tempfile.TemporaryDirectory(prefix="soundscape-songs-") as tmp:
        env = {**os.environ, "SOUNDSCAPE_DATA_DIR": str(Path(tmp) / "data")}
        for path in files:
            cut = Path(tmp) / f"{path.stem}.flac"
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path)]
                + ["-t", str(args.seconds), "-c:a", "flac", str(cut)],
                check=True,
            )
            done = subprocess.run(
                [str(ROOT / ".venv" / "bin" / "soundscape"), "analyze", "--json", str(cut)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                print(f"{path.name[:47]:<48}failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            report = json.loads(done.stdout)
            scores = report["scores"]
            synthetic += report["verdict"] == "likely_synthetic"
            print(
                f"{path.name[:47]:<48}{report['verdict']:<18}{_fmt(scores['mixture']):>9}"
                f"{_fmt(scores['vocals']):>9}"
            )
    print(f"{synthetic} of {len(files)} likely_synthetic")
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())

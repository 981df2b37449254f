"""Ingest speed: seconds of audio ingested per second of wall time, per container.

Each real recording in ../shared/audio is re-encoded into every supported container
(ffmpeg), then ingested (sniff, probe, decode to 44.1 kHz stereo, loudness, sha256) and
written as canonical FLAC, as the ingest stage does.

    .venv/bin/python benchmarks/bench_ingest.py [--repeat 3] [--memory-seconds 600]

``--memory-seconds N`` also ingests an N-second track (the real recordings back to back)
in a fresh process and prints its peak RSS against the size of the decoded audio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import PROJECT_ROOT  # noqa: E402
from workers.compute.canonical import CANONICAL_RATE, ingest_file, write_flac  # noqa: E402

AUDIO_DIR = PROJECT_ROOT.parent / "shared" / "audio"
CONTAINERS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")


def encode_all(tmp: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {suffix: [] for suffix in CONTAINERS}
    for source in sorted(AUDIO_DIR.glob("*.ogg")):
        for suffix in CONTAINERS:
            target = tmp / f"{source.stem}{suffix}"
            subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-y",
                    "-i",
                    str(source),
                    "-map",
                    "0:a:0",
                    str(target),
                ],
                check=True,
            )
            files[suffix].append(target)
    return files


def time_ingest(paths: list[Path], tmp: Path, repeat: int) -> tuple[float, float]:
    """(seconds of audio, best wall seconds over ``repeat`` runs) for ingesting ``paths``."""
    best, audio = float("inf"), 0.0
    for _ in range(repeat):
        start, audio = time.perf_counter(), 0.0
        for path in paths:
            track = ingest_file(path, max_duration=1200)
            write_flac(track.canonical, CANONICAL_RATE, tmp / "canonical.flac")
            audio += track.info.duration_seconds
        best = min(best, time.perf_counter() - start)
    return audio, best


def peak_rss(seconds: float, tmp: Path) -> None:
    """Peak RSS of a fresh process that imports the stage, then ingests a long track."""
    sources = sorted(AUDIO_DIR.glob("*.ogg"))
    long_track = tmp / "long.flac"
    inputs = [arg for source in sources for arg in ("-i", str(source))]
    inputs = "".join(f"[{i}:a:0]" for i in range(len(sources)))
    concat = f"{inputs}concat=n={len(sources)}:v=0:a=1,aloop=loop=-1:size=2e9"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            concat,
            "-t",
            str(seconds),
            "-ar",
            "44100",
            "-ac",
            "2",
            str(long_track),
        ],
        check=True,
    )
    probe = (
        "import resource, sys; from pathlib import Path\n"
        "from workers.compute.canonical import ingest_file\n"
        "base = next(int(l.split()[1]) for l in open('/proc/self/status')\n"
        "            if l.startswith('VmRSS'))\n"
        "track = ingest_file(Path(sys.argv[1]), max_duration=1e6)\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(base, peak, track.canonical.nbytes)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(long_track)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    base, peak, decoded = int(out[0]) / 1024, int(out[1]) / 1024, int(out[2]) / 2**20
    print(
        f"\n{seconds:.0f} s track: decoded {decoded:.0f} MiB; peak RSS {peak:.0f} MiB, "
        f"{peak - base:.0f} MiB above the {base:.0f} MiB resident after imports "
        f"({(peak - base) / decoded:.2f}x the decoded audio)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-seconds", type=float, default=0.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = encode_all(tmp)
        print(
            f"{'container':<10} {'files':>5} {'audio s':>9} {'wall s':>8} {'audio s / wall s':>17}"
        )
        total_audio = total_wall = 0.0
        for suffix, paths in files.items():
            audio, wall = time_ingest(paths, tmp, args.repeat)
            total_audio, total_wall = total_audio + audio, total_wall + wall
            print(
                f"{suffix[1:]:<10} {len(paths):>5} {audio:>9.1f} {wall:>8.2f} {audio / wall:>17.1f}"
            )
        print(
            f"{'all':<10} {sum(map(len, files.values())):>5} {total_audio:>9.1f} "
            f"{total_wall:>8.2f} {total_audio / total_wall:>17.1f}"
        )
        if args.memory_seconds:
            peak_rss(args.memory_seconds, tmp)


if __name__ == "__main__":
    main()

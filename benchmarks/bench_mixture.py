"""Full-mix detector speed: seconds of audio scored per second, and where the time goes.

Scores whole real songs from ../shared/audio/songs (decoded once, outside the timing) with
the default mixture detector at the service's 1 s hop, in this process on one thread:
frame statistics of its feature set (at the set's sample rate: the resampling from 44.1 kHz
is timed too), the window features, and the classifier. Median of ``--repeats`` runs per song.

Usage:
    .venv/bin/python benchmarks/bench_mixture.py [--songs 3] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SONGS = Path(__file__).resolve().parent.parent.parent / "shared" / "audio" / "songs"


def main() -> int:
    import torch

    from workers.compute.audio import decode_file, resample
    from workers.mixture.classifier import window_features
    from workers.networks.registry import default_model_name, load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    detector = load_model("mixture-detector", default_model_name("mixture-detector"))
    print(
        f"{detector.name}; torch {torch.__version__}, {args.threads} thread(s); "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'song':<40}{'audio s':>9}{'frames':>10}{'windows':>10}{'classify':>10}{'audio s/s':>11}"
    )
    files = sorted(p for p in SONGS.iterdir() if p.suffix in {".mp3", ".ogg"})[: args.songs]
    totals = []
    for path in files:
        canonical = decode_file(path, 44100, 1)[0]
        seconds = canonical.size / 44100
        features = detector.feature_set
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            frames = features.frames(resample(canonical, 44100, features.sample_rate))
            t1 = time.perf_counter()
            windows = window_features(frames, 1.0, features.sample_rate)
            t2 = time.perf_counter()
            windows.scores(detector.model)
            t3 = time.perf_counter()
            runs.append((t1 - t0, t2 - t1, t3 - t2))
        frame_s, window_s, classify_s = (statistics.median(r[i] for r in runs) for i in range(3))
        total = frame_s + window_s + classify_s
        totals.append((seconds, total))
        print(
            f"{path.stem[:39]:<40}{seconds:>9.1f}{frame_s:>9.2f}s{window_s:>9.2f}s"
            f"{classify_s:>9.3f}s{seconds / total:>11.1f}"
        )
    audio = sum(s for s, _ in totals)
    print(f"overall: {audio / sum(t for _, t in totals):.1f} s of audio per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())

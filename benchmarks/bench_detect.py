"""Detector throughput: windows scored per second per model, at batch sizes 1 and 16.

Measures ``Detector.score_batch`` (the model forward pass and its P(synthetic) head) on
random 16 kHz windows, after one warm-up batch, for at least ``--seconds`` per cell.
Resampling and windowing are not included (they cost little next to the models).

Usage:
    .venv/bin/python benchmarks/bench_detect.py [--model NAME ...] [--seconds 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from workers.networks.roles import WindowDetector

BATCH_SIZES = (1, 16)


def windows_per_second(detector: WindowDetector, batch_size: int, min_seconds: float) -> float:
    """Windows per second of ``detector.score_batch`` on (batch_size, window) float32 input."""
    import torch

    batch = torch.randn(batch_size, detector.window, generator=torch.Generator().manual_seed(0))
    batch = 0.1 * batch
    with torch.inference_mode():
        detector.score_batch(batch)  # warm-up: lazy allocations, first-call kernels
        done, start = 0, time.perf_counter()
        while True:
            detector.score_batch(batch)
            done += batch_size
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return done / elapsed


def main() -> int:
    from app.config import load_settings
    from workers.networks.registry import load_model, specs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", dest="models", metavar="NAME")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum time per cell")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import torch

    settings = load_settings()
    print(
        f"device {args.device}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    header = f"{'model':<12}{'window':>8}" + "".join(
        f"{f'batch {b} win/s':>17}" for b in BATCH_SIZES
    )
    print(header)
    for name in args.models or list(specs("vocal-detector")):
        detector = load_model("vocal-detector", name, settings.weights_dir, args.device)
        rates = [windows_per_second(detector, b, args.seconds) for b in BATCH_SIZES]
        seconds_audio = detector.window / detector.sample_rate
        print(f"{name:<12}{seconds_audio:>7.2f}s" + "".join(f"{r:>17.2f}" for r in rates))
    print("At a 1 s hop one window is scored per second of vocals (plus one per track).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

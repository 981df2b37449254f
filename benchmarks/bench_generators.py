"""Generator zoo throughput: seconds of audio per second for each generator, and fit time.

Applies each generator (random init; fitting does not change the cost) to a stereo 44.1 kHz
excerpt of a real track after one warm-up call, then times ``fit_generators`` for
``--steps`` Adam steps on excerpts of the same track (no cache). Prints one row per
generator and the total fit time of the zoo.

Usage:
    .venv/bin/python benchmarks/bench_generators.py [--name SUBSTRING] [--seconds 10]
        [--steps 120] [--no-fit]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.zoo import (  # noqa: E402
    DEFAULT_STEPS,
    GENERATORS,
    fit_generators,
    load_generator,
)

TRACK = Path(__file__).resolve().parents[2] / "shared" / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"


def read_track() -> np.ndarray:
    """The benchmark track as float32 (2, n) at 44.1 kHz."""
    audio, rate = sf.read(TRACK, dtype="float32", always_2d=True)
    assert rate == 44100, rate
    return np.ascontiguousarray(audio.T)


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call.

    On a shared machine the wall time includes waiting for other jobs; CPU seconds divided
    by the thread count estimates the wall time the call would take on idle cores.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def realtime_factors(name: str, audio: np.ndarray) -> tuple[float, float]:
    """Seconds of (stereo) audio generated per second: of wall time, and of idle-core time."""
    generator = load_generator(name)
    generator(audio[:, :44100])
    wall, cpu = timed(lambda: generator(audio))
    seconds = audio.shape[1] / 44100
    return seconds / wall, seconds / (cpu / torch.get_num_threads())


def fit_seconds(name: str, excerpts: list[np.ndarray], steps: int) -> tuple[float, float]:
    """(wall, idle-core estimate) seconds of ``fit_generators([name], ...)`` without a cache."""
    wall, cpu = timed(lambda: fit_generators([name], excerpts, steps=steps, seed=0))
    return wall, cpu / torch.get_num_threads()


def parameter_count(name: str) -> int:
    model = load_generator(name).model
    return 0 if model is None else sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="", help="only generators whose name contains this")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the test excerpt")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="fit steps to time")
    parser.add_argument("--no-fit", action="store_true", help="skip the fit timing")
    args = parser.parse_args()

    track = read_track()
    audio = track[:, 20 * 44100 : int((20 + args.seconds) * 44100)]
    excerpts = [track[:, s * 44100 : (s + 10) * 44100] for s in (30, 45)]
    machine = platform.processor() or platform.machine()
    print(f"# {machine}, torch threads {torch.get_num_threads()}")
    print(f"# {args.seconds:g} s stereo excerpt; fit: {args.steps} steps on 2 x 10 s excerpts")
    print("# wall: as measured; idle: CPU time / threads (what idle cores would take)")
    print(
        f"{'generator':46s} {'params':>8s} {'x rt wall':>9s} {'x rt idle':>9s} "
        f"{'fit s wall':>10s} {'fit s idle':>10s}"
    )
    total_wall = total_idle = 0.0
    for name, spec in GENERATORS.items():
        if args.name not in name:
            continue
        speed_wall, speed_idle = realtime_factors(name, audio)
        fit_wall = fit_idle = 0.0
        if spec.neural and not args.no_fit:
            fit_wall, fit_idle = fit_seconds(name, excerpts, args.steps)
        total_wall, total_idle = total_wall + fit_wall, total_idle + fit_idle
        print(
            f"{name:46s} {parameter_count(name):8d} {speed_wall:9.1f} {speed_idle:9.1f} "
            f"{fit_wall:10.1f} {fit_idle:10.1f}",
            flush=True,
        )
    if not args.no_fit:
        print(
            f"# total fit at {args.steps} steps: {total_wall:.0f} s wall, {total_idle:.0f} s idle"
        )


if __name__ == "__main__":
    main()

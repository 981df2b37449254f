"""Benchmark of the separate stage: real-time factor and peak RSS of htdemucs and repet-sim.

Real-time factor (RTF) = seconds of processing per second of audio, on this machine's CPU.
htdemucs is the full-size model (HTDemucs defaults: 48 channels, depth 4, nfft 4096,
5 cross-transformer layers, plus bottom_channels=512 and segment=7.8 s as in the released
htdemucs) randomly initialised: the same arithmetic as the trained weights, which this
machine does not have. Each measurement runs in a fresh process so that its peak RSS
(ru_maxrss, which includes the interpreter, numpy/torch and the decoded audio) is its own.

    .venv/bin/python benchmarks/bench_separate.py --seconds 30 --memory-seconds 600
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SONG = ROOT.parent / "shared" / "audio" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
SR = 44100


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _load_mix(path: str, seconds: float):
    """(2, n) float32: the first ``seconds`` of ``path``, repeated when the file is shorter."""
    import numpy as np

    from workers.pipeline.audio import decode_file

    audio = decode_file(path, sample_rate=SR, channels=2, max_seconds=seconds)
    repeats = int(np.ceil(seconds * SR / audio.shape[1]))
    return np.ascontiguousarray(np.tile(audio, (1, repeats))[:, : int(seconds * SR)])


def _build(name: str):
    if name == "repet-sim":
        from workers.pipeline.repet_sim import RepetSimSeparator

        return RepetSimSeparator()
    import torch
    from demucs.htdemucs import HTDemucs

    from workers.pipeline.demucs_separator import DemucsSeparator
    from workers.pipeline.types import ModelInfo

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], bottom_channels=512,
                     segment=7.8).eval()
    return DemucsSeparator(model, ModelInfo("htdemucs (random init)", None), torch.device("cpu"))


def _measure(name: str, path: str, seconds: float, queue) -> None:
    sys.path.insert(0, str(ROOT))
    from workers.pipeline.separate import separate

    mix = _load_mix(path, seconds)
    separator = _build(name)
    ready_mb = _peak_rss_mb()
    start = time.perf_counter()
    result = separate(mix, SR, separator)
    elapsed = time.perf_counter() - start
    queue.put({"method": name, "audio_s": seconds, "elapsed_s": elapsed,
               "rtf": elapsed / seconds, "rss_ready_mb": ready_mb,
               "rss_peak_mb": _peak_rss_mb(), "active": float(result.activity.active.mean())})


def run_one(name: str, path: str, seconds: float) -> dict:
    """Measure ``name`` on ``seconds`` of ``path`` in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(name, path, seconds, queue))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", default=str(SONG), help="input file (default: the real song)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="excerpt length for the speed figures (default 30)")
    parser.add_argument("--memory-seconds", type=float, default=0.0,
                        help="also measure peak RSS on a track this long (the excerpt looped), "
                             "e.g. 600 for 10 minutes")
    parser.add_argument("--methods", nargs="+", default=["repet-sim", "htdemucs"])
    args = parser.parse_args(argv)
    import torch

    print(f"input: {args.audio}; torch threads: {torch.get_num_threads()}")
    print(f"{'method':<10} {'audio s':>8} {'elapsed s':>10} {'RTF':>6} "
          f"{'RSS ready MB':>13} {'RSS peak MB':>12} {'active':>7}")
    lengths = [args.seconds] + ([args.memory_seconds] if args.memory_seconds else [])
    for seconds in lengths:
        for method in args.methods:
            r = run_one(method, args.audio, seconds)
            print(f"{r['method']:<10} {r['audio_s']:>8.0f} {r['elapsed_s']:>10.1f} "
                  f"{r['rtf']:>6.3f} {r['rss_ready_mb']:>13.0f} {r['rss_peak_mb']:>12.0f} "
                  f"{r['active']:>7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

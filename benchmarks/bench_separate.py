"""Benchmark of the separate stage: real-time factor and peak RSS of htdemucs and repet-sim.

Real-time factor (RTF) = seconds of processing per second of audio, on this machine's CPU.
htdemucs is the full-size model (HTDemucs defaults: 48 channels, depth 4, nfft 4096,
5 cross-transformer layers, plus bottom_channels=512 and segment=7.8 s as in the released
htdemucs) randomly initialised: the same arithmetic as the trained weights, which this
machine does not have. Each measurement runs in a fresh process so that its peak RSS
(ru_maxrss, which includes the interpreter, numpy/torch and the decoded audio) is its own.
"growth" is what separation itself adds: the highest VmRSS sampled every 5 ms while
``separate`` runs, minus VmRSS just before it (the input and the loaded model).

The default input is a playlist of different real recordings from ../shared/audio, one
after another, then the same again played a semitone lower when the length asks for more:
REPET-style methods find exact repeats, so a looped clip would flatter them. ``--loop``
repeats ``--audio`` instead.

    .venv/bin/python benchmarks/bench_separate.py --seconds 60 600 --methods repet-sim
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIO = ROOT.parent / "shared" / "audio"
SONG = AUDIO / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
PLAYLIST = (
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "glacier-bay-humpback.ogg",
    "198-209-0000.ogg",
    "3436-172162-0000.ogg",
    "5703-47212-0000.ogg",
)
SR = 44100
SEMITONE = 2 ** (1 / 12)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class RssSampler:
    """Highest VmRSS (MB) seen by a thread that reads it every ``interval`` seconds."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak_mb = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, _rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


def _loop_mix(path: str, seconds: float):
    """(2, n) float32: the first ``seconds`` of ``path``, repeated when the file is shorter."""
    import numpy as np

    from workers.compute.audio import decode_file

    audio = decode_file(path, sample_rate=SR, channels=2, max_seconds=seconds)
    repeats = int(np.ceil(seconds * SR / audio.shape[1]))
    return np.ascontiguousarray(np.tile(audio, (1, repeats))[:, : int(seconds * SR)])


def _playlist_mix(seconds: float):
    """(2, n) float32: ``PLAYLIST`` back to back, then again a semitone lower, and so on."""
    import numpy as np

    from workers.compute.audio import decode_file

    mix = np.zeros((2, int(seconds * SR)), dtype=np.float32)
    filled, rate = 0, float(SR)
    while filled < mix.shape[1]:
        for name in PLAYLIST:
            # Decoded at a higher rate and played at SR: slower and a semitone lower.
            wanted = mix.shape[1] - filled
            audio = decode_file(
                AUDIO / name,
                sample_rate=int(round(rate)),
                channels=2,
                max_seconds=wanted / rate + 0.1,
            )[:, :wanted]
            mix[:, filled : filled + audio.shape[1]] = audio
            filled += audio.shape[1]
            if filled >= mix.shape[1]:
                break
        rate *= SEMITONE
    return mix


def _build(name: str):
    if name == "repet-sim":
        from workers.networks.repet_sim import RepetSimSeparator

        return RepetSimSeparator()
    import torch
    from demucs.htdemucs import HTDemucs

    from workers.networks.demucs import DemucsSeparator
    from workers.networks.roles import ModelInfo

    torch.manual_seed(0)
    model = HTDemucs(
        sources=["drums", "bass", "other", "vocals"], bottom_channels=512, segment=7.8
    ).eval()
    return DemucsSeparator(model, ModelInfo("htdemucs (random init)", None), torch.device("cpu"))


def _measure(name: str, path: str | None, seconds: float, queue) -> None:
    sys.path.insert(0, str(ROOT))
    from workers.compute.separation import separate

    mix = _loop_mix(path, seconds) if path else _playlist_mix(seconds)
    separator = _build(name)
    ready_mb = _rss_mb()
    start = time.perf_counter()
    with RssSampler() as sampler:
        result = separate(mix, SR, separator)
    elapsed = time.perf_counter() - start
    queue.put(
        {
            "method": name,
            "audio_s": seconds,
            "elapsed_s": elapsed,
            "rtf": elapsed / seconds,
            "rss_ready_mb": ready_mb,
            "rss_peak_mb": _peak_rss_mb(),
            "growth_mb": sampler.peak_mb - ready_mb,
            "active": float(result.activity.active.mean()),
        }
    )


def run_one(name: str, path: str | None, seconds: float) -> dict:
    """Measure ``name`` on ``seconds`` of ``path`` looped (None: the playlist), in a fresh
    process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(name, path, seconds, queue))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        nargs="+",
        default=[30.0],
        help="track lengths to measure (default 30)",
    )
    parser.add_argument(
        "--memory-seconds",
        type=float,
        default=0.0,
        help="one more, longer length, e.g. 600 for 10 minutes",
    )
    parser.add_argument(
        "--loop", action="store_true", help="loop --audio instead of playing the playlist"
    )
    parser.add_argument("--audio", default=str(SONG), help="the file --loop repeats")
    parser.add_argument("--methods", nargs="+", default=["repet-sim", "htdemucs"])
    args = parser.parse_args(argv)
    import torch

    source = f"{args.audio} looped" if args.loop else "playlist of " + ", ".join(PLAYLIST)
    print(f"input: {source}; torch threads: {torch.get_num_threads()}")
    print(
        f"{'method':<10} {'audio s':>8} {'elapsed s':>10} {'RTF':>6} {'RSS ready MB':>13} "
        f"{'RSS peak MB':>12} {'growth MB':>10} {'active':>7}"
    )
    lengths = args.seconds + ([args.memory_seconds] if args.memory_seconds else [])
    for seconds in lengths:
        for method in args.methods:
            r = run_one(method, args.audio if args.loop else None, seconds)
            print(
                f"{r['method']:<10} {r['audio_s']:>8.0f} {r['elapsed_s']:>10.1f} "
                f"{r['rtf']:>6.3f} {r['rss_ready_mb']:>13.0f} {r['rss_peak_mb']:>12.0f} "
                f"{r['growth_mb']:>10.0f} {r['active']:>7.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

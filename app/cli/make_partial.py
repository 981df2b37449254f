"""``soundscape make-partial SRC... --out DIR``: partially synthetic tracks with their ground
truth, for measuring localization (``soundscape evaluate-localization``).

Chosen regions of each real track are replaced by a re-synthesis of the same audio by a
generator of the full-mix detector's zoo (``training/zoo``), with short
equal-power crossfades. DIR gets the tracks as FLAC, ``regions.json`` ({file: [[start, end],
...]}, seconds) and ``generators.json`` (the generator of each region).
"""

from __future__ import annotations

import argparse
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", type=Path, metavar="SRC", help="audio files or folders"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument(
        "--generator",
        action="append",
        dest="generators",
        metavar="NAME",
        help="a zoo generator to use (repeatable; default: the whole zoo, about an hour of "
        "fitting on 2 cores the first time); `--generator list` prints the names",
    )
    parser.add_argument("--regions", type=int, default=2, help="regions per track (default 2)")
    parser.add_argument("--min-seconds", type=float, default=10.0, help="shortest region")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="longest region")
    parser.add_argument("--gap-seconds", type=float, default=10.0, help="least real audio between")
    parser.add_argument("--crossfade", type=float, default=0.05, help="crossfade seconds")
    parser.add_argument("--track-seconds", type=float, default=None, help="cut sources to this")
    parser.add_argument(
        "--fit-steps",
        type=int,
        default=40,
        help="Adam steps fitting each neural generator on the sources (0: random init)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder caching fitted generators (default: <SOUNDSCAPE_DATA_DIR>/generator-cache)",
    )
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from training.partial import PartialConfig, write_partial_set
    from training.zoo import GENERATORS

    if args.generators == ["list"]:
        print("\n".join(GENERATORS))
        return 0
    names = tuple(args.generators or GENERATORS)
    unknown = [name for name in names if name not in GENERATORS]
    if unknown:
        raise ValueError(
            f"unknown generator(s) {', '.join(unknown)}; `--generator list` prints the zoo"
        )
    if args.regions < 1 or args.crossfade < 0 or args.fit_steps < 0:
        raise ValueError("--regions must be at least 1, --crossfade and --fit-steps not negative")
    config = PartialConfig(
        generators=names,
        regions_per_track=args.regions,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        min_gap_seconds=args.gap_seconds,
        crossfade_seconds=args.crossfade,
        max_track_seconds=args.track_seconds,
        fit_steps=args.fit_steps,
        cache_dir=args.cache or load_settings().data_dir / "generator-cache",
        seed=args.seed,
    )
    truth = write_partial_set(
        _audio_files(args.sources), args.out, config, lambda line: print(line, flush=True)
    )
    n_regions = sum(len(spans) for spans in truth.values())
    print(f"wrote {len(truth)} tracks with {n_regions} synthetic regions to {args.out}")
    return 0


def _audio_files(sources: list[Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        elif source.is_file():
            files.append(source)
        else:
            raise FileNotFoundError(f"no such file or folder: {source}")
    if not files:
        raise ValueError("no audio files among the sources")
    return files

"""``soundscape evaluate-vocal-activity --songs DIR``: how well the separate stage finds the
singing, frame by frame, against the songs' karaoke note files.

DIR holds audio files and, beside each song, ``<name>.notes.txt`` (UltraStar) saying when
the lead vocal sounds. Each file goes through the separate stage's computation (configured
separator, then the vocal-activity classifier or, with ``--rule energy``, the stem's energy
rule); files without a note file get only the share of frames marked active.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFINITIONS = """\
metrics (one class "lead vocal sounds", 0.1 s frames, per song):
  a frame is sung in the truth when any note of the song's note file overlaps it;
  precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN) over the song's frames;
  the mean is the mean of the songs' F1 (each song weighs the same).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = DEFINITIONS
    parser.add_argument(
        "--songs", type=Path, required=True, help="folder of songs and their .notes.txt files"
    )
    parser.add_argument(
        "--rule",
        choices=("classifier", "energy"),
        default="classifier",
        help="what marks active frames: the shipped classifier of the mix (default, as the "
        "service does) or the separated stem's energy rule (the service before it)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="evaluate only the first SECONDS of each file"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")


def run(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from training.evaluation.vocal_activity import evaluate_vocal_activity, mean_f1

    if not args.songs.is_dir():
        raise FileNotFoundError(f"no such folder: {args.songs}")
    result = evaluate_vocal_activity(args.songs, load_settings(), args.rule, args.seconds)
    print(f"{'song':44} {'seconds':>7} {'active':>6} {'precision':>9} {'recall':>6} {'F1':>5}")
    for song in result.songs:
        scores = song.scores
        cells = ("-", "-", "no notes") if scores is None else (
            _cell(scores.precision), _cell(scores.recall), _cell(scores.f1)
        )  # fmt: skip
        print(
            f"{song.name[:44]:44} {song.seconds:7.1f} {song.active_share:6.2f} "
            f"{cells[0]:>9} {cells[1]:>6} {cells[2]:>5}"
        )
    models = ", ".join(f"{role} {info['name']}" for role, info in result.models.items())
    print(f"mean F1 {_cell(mean_f1(result.songs))} ({args.rule} rule; {models})")
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

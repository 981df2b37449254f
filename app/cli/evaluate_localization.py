"""``soundscape evaluate-localization --data DIR``: how well the service finds the synthetic
regions of partially synthetic tracks (what ``soundscape make-partial`` writes).

DIR holds audio files and ``regions.json`` ({file: [[start, end], ...]}, seconds, paths
relative to DIR). Each listed file is scored by the configured full-mix detector and cut
into regions exactly as the localize stage does (same curve, settings, verdict rule).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFINITIONS = """\
metrics (sound-event detection, one class "synthetic", micro-averaged over files):
  segment F1: the track is cut into 1 s segments; a segment is active in the ground truth
    (or the estimate) when any true (estimated) region overlaps it; F1 = 2TP/(2TP+FP+FN)
    over all segments of all files.
  event F1: an estimated region is a hit when its onset and its offset both lie within
    0.5 s (the collar) of a true region's; each region is matched at most once (maximum
    one-to-one matching); unmatched estimates count as FP, unmatched truths as FN.
  Either is null when there is nothing to count (no region in the truth or the estimate).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = DEFINITIONS
    parser.add_argument(
        "--data", type=Path, required=True, help="folder of audio files and regions.json"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print exactly {"segment_f1": ..., "event_f1": ..., "n_files": ...}, nothing else',
    )


def run(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from training.evaluation.localization import evaluate_localization, load_truth

    truth = load_truth(args.data)
    result = evaluate_localization(args.data, truth, load_settings())
    if args.json:
        print(json.dumps(result.summary()))
        return 0
    for row in result.files:
        print(
            f"{row.name}: truth {_spans(row.truth)}  found {_spans(row.found)}  "
            f"segment F1 {_f1(row.segments.f1)}  event F1 {_f1(row.events.f1)}"
        )
    summary = result.summary()
    print(
        f"{summary['n_files']} files: segment F1 {_f1(summary['segment_f1'])} "
        f"(1 s segments), event F1 {_f1(summary['event_f1'])} (0.5 s collar)"
    )
    return 0


def _spans(spans: list[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"{a:.1f}-{b:.1f}" for a, b in spans) + "]"


def _f1(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"

"""``soundscape evaluate``: score a labelled set with each detector and print EER, AUC, FPR/FNR.

Vocal detectors and the mixture detector alike; with a ``real/`` + ``fake/<generator>/``
folder the JSON adds ``per_generator`` AUCs under each model's entry.

A file's score is the track score the detect stage reports (whole-file windows, the same
aggregate), so the figures measure what the service does; the scoring is
``training.evaluation.scoring``, where worker code and torch load only once run() scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from training.evaluation.scoring import Failure, fake_groups, load_model, per_generator, score_items


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="real/ + fake/ folders, a folder of fakes only, a path,label CSV, or an "
        "ASVspoof-style protocol file",
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="detector to evaluate; repeat for several "
        "(default: SOUNDSCAPE_DETECTOR, or the manifest's default when unset)",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--hop", type=float, default=1.0, help="window hop in seconds")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")


def run(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from training.evaluation.metrics import load_dataset, summarize
    from workers.networks.registry import model_name

    settings = load_settings()
    items = load_dataset(args.data)
    names = list(dict.fromkeys(args.models or [model_name("vocal-detector", settings.detector)]))
    models = {name: load_model(name, settings) for name in names}
    scores, failures = score_items(items, models, args.hop, args.batch_size)
    groups = fake_groups(args.data, items)
    results: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        results[name] = summarize(items, scores[name], model.threshold)
        if any(groups):
            results[name]["per_generator"] = per_generator(items, scores[name], groups)
    for failure in failures:
        print(f"could not score {failure.path}: {failure.reason}", file=sys.stderr)
    if args.json:
        print(json.dumps({"models": results}))
    else:
        thresholds = {n: m.threshold for n, m in models.items()}
        print(format_table(results, thresholds, len(items), failures))
    return 0


def format_table(
    results: dict[str, dict[str, Any]],
    thresholds: dict[str, float | None],
    n_items: int,
    failures: list[Failure],
) -> str:
    """Human-readable per-model figures, one row per model."""
    header = (
        f"{'model':<12}{'n_real':>7}{'n_fake':>7}{'EER':>9}{'AUC':>8}"
        f"{'thresh':>18}{'FPR':>9}{'FNR':>9}{'caught':>9}"
    )
    lines = [header]
    for name, r in results.items():
        lines.append(
            f"{name:<12}{r['n_real']:>7}{r['n_fake']:>7}{_pct(r['eer']):>9}"
            f"{_num(r['auc']):>8}{_threshold(thresholds[name]):>18}{_pct(r['fpr']):>9}"
            f"{_pct(r['fnr']):>9}{_pct(r['caught']):>9}"
        )
    lines.append(f"{n_items} files listed, {len(failures)} could not be scored (see stderr)")
    lines.append(
        "FPR/FNR and caught (share of fakes at or above it) at the model's shipped threshold "
        "(weights/manifest.yaml); '-' where undefined"
    )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _threshold(value: float | None) -> str:
    # Calibrated thresholds sit within 1e-7 of 1: fixed decimals would print them as 1.000.
    return "-" if value is None else f"{value:.12g}"

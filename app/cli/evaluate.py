"""``soundscape evaluate``: score a labelled set with each detector and print EER, AUC, FPR/FNR.

Vocal detectors and the mixture detector alike; with a ``real/`` + ``fake/<generator>/``
folder the JSON adds ``per_generator`` AUCs under each model's entry.

A file's score is the track score the detect stage reports (whole-file windows, the same
aggregate), so the figures measure what the service does. Worker code and torch load only
inside run().
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from app.config import Settings
    from training.evaluation.metrics import LabelledFile


@dataclass(frozen=True)
class Failure:
    path: Path
    reason: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="real/ + fake/ folders, a path,label CSV, or an ASVspoof-style protocol file",
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


@dataclass(frozen=True)
class Scorer:
    """A model of either detector role, reduced to: mono audio at ``sample_rate`` -> the track
    score the detect stage reports, and its shipped threshold (None if absent)."""

    score: Callable[[np.ndarray, float, int], float | None]
    sample_rate: int
    threshold: float | None


def load_model(name: str, settings: Settings) -> Scorer:
    """The vocal or mixture detector ``name`` from the registry, as a Scorer."""
    from workers.networks.device import resolve_device
    from workers.networks.registry import load_model, specs
    from workers.networks.weights import shipped_threshold

    role = "mixture-detector" if name in specs("mixture-detector") else "vocal-detector"
    model = load_model(
        role,
        name,
        settings.weights_dir,
        str(resolve_device(settings.device)),
        allow_download=settings.weights_download,
    )
    try:
        threshold: float | None = shipped_threshold(name)
    except KeyError:
        threshold = None
    return (
        mixture_scorer(model, threshold)
        if role == "mixture-detector"
        else vocal_scorer(model, threshold)
    )


def vocal_scorer(detector: Any, threshold: float | None) -> Scorer:
    """A window detector (role "vocal-detector") as a Scorer: the detect stage's vocal score."""
    from workers.compute.detection import score_track

    return Scorer(
        lambda mono, hop, batch: score_track(
            mono, detector.sample_rate, detector, hop_seconds=hop, batch_size=batch
        ),
        detector.sample_rate,
        threshold,
    )


def mixture_scorer(detector: Any, threshold: float | None) -> Scorer:
    """A mixture detector as a Scorer: the detect stage's mixture (and overall) score."""
    from workers.compute.detection import score_mixture

    return Scorer(
        lambda mono, hop, _: score_mixture(mono, detector.sample_rate, detector, hop).track_score,
        detector.sample_rate,
        threshold,
    )


def fake_groups(data: Path, items: list[LabelledFile]) -> list[str]:
    """Per item, the folders between ``fake/`` and a fake file (its generator), else ""."""
    groups = []
    for item in items:
        try:
            parts = item.path.relative_to(data / "fake").parts[:-1]
        except ValueError:
            parts = ()
        groups.append("/".join(parts) if item.is_fake else "")
    return groups


def per_generator(
    items: list[LabelledFile], scores: list[float | None], groups: list[str]
) -> dict[str, float | None]:
    """AUC of all real files against each generator's fakes."""
    from training.evaluation.metrics import summarize

    out = {}
    for group in sorted(set(groups) - {""}):
        keep = [i for i, item in enumerate(items) if not item.is_fake or groups[i] == group]
        figures = summarize([items[i] for i in keep], [scores[i] for i in keep], None)
        out[group] = figures["auc"]
    return out


def score_items(
    items: list[LabelledFile], models: dict[str, Scorer], hop_seconds: float, batch_size: int
) -> tuple[dict[str, list[float | None]], list[Failure]]:
    """Track score of every file under every model; None (and a Failure) when unreadable."""
    from app.errors import CorruptAudioError

    scores: dict[str, list[float | None]] = {name: [] for name in models}
    failures: list[Failure] = []
    for item in items:
        try:
            row = score_item(item.path, models, hop_seconds, batch_size)
        except (CorruptAudioError, OSError) as exc:
            failures.append(Failure(item.path, str(exc) or type(exc).__name__))
            row = dict.fromkeys(models)
        for name in models:
            scores[name].append(row[name])
    return scores, failures


def score_item(
    path: Path, models: dict[str, Scorer], hop_seconds: float, batch_size: int
) -> dict[str, float | None]:
    """One file's track score per model; decoded (mono, by ffmpeg) once per sample rate."""
    from app.errors import CorruptAudioError
    from workers.compute.audio import decode_file

    decoded: dict[int, Any] = {}
    row: dict[str, float | None] = {}
    for name, model in models.items():
        rate = model.sample_rate
        if rate not in decoded:
            decoded[rate] = decode_file(path, rate, 1)
            if decoded[rate].shape[-1] == 0:
                raise CorruptAudioError("no audio samples decoded")
        row[name] = model.score(decoded[rate], hop_seconds, batch_size)
    return row


def format_table(
    results: dict[str, dict[str, Any]],
    thresholds: dict[str, float | None],
    n_items: int,
    failures: list[Failure],
) -> str:
    """Human-readable per-model figures, one row per model."""
    header = (
        f"{'model':<12}{'n_real':>7}{'n_fake':>7}{'EER':>9}{'AUC':>8}"
        f"{'thresh':>18}{'FPR':>9}{'FNR':>9}"
    )
    lines = [header]
    for name, r in results.items():
        lines.append(
            f"{name:<12}{r['n_real']:>7}{r['n_fake']:>7}{_pct(r['eer']):>9}"
            f"{_num(r['auc']):>8}{_threshold(thresholds[name]):>18}{_pct(r['fpr']):>9}"
            f"{_pct(r['fnr']):>9}"
        )
    lines.append(f"{n_items} files listed, {len(failures)} could not be scored (see stderr)")
    lines.append(
        "FPR/FNR at the model's shipped threshold (weights/manifest.yaml); '-' where undefined"
    )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _threshold(value: float | None) -> str:
    # Calibrated thresholds sit within 1e-7 of 1: fixed decimals would print them as 1.000.
    return "-" if value is None else f"{value:.12g}"

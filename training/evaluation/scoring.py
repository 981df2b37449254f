"""Scoring a labelled set as the detect stage scores a track: each detector (vocal or
mixture) reduced to a Scorer, every file decoded once per sample rate, and AUCs per generator
folder. Worker code and torch load only inside the functions that need them."""

from __future__ import annotations

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

"""Labelled evaluation sets (three layouts) and detection metrics (EER, ROC AUC, FPR/FNR).

Convention everywhere: label 1 = fake (spoof, the positive class), 0 = real (bona fide);
a score is P(synthetic), and a file is called fake when its score >= the threshold.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.compute.windows import log_odds

AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3", ".m4a", ".opus", ".aac")
_LABELS = {"real": 0, "bonafide": 0, "bona-fide": 0, "fake": 1, "spoof": 1}


class DatasetLayoutError(ValueError):
    """The --data path matches none of the supported layouts, or a line is malformed."""


@dataclass(frozen=True)
class LabelledFile:
    """One item of an evaluation set; ``path`` may not exist (reported as a failure)."""

    path: Path
    is_fake: bool


def load_dataset(data: Path) -> list[LabelledFile]:
    """Read an evaluation set from ``data``, whichever of the three layouts it uses.

    - a folder holding ``real/`` and ``fake/`` subfolders (audio files found recursively);
    - a CSV file of ``path,label`` rows (label real/fake or bonafide/spoof; an optional
      header; relative paths are relative to the CSV's folder), or a folder with one .csv;
    - a folder of audio files only, found recursively (no real/ or fake/, no listing): every
      file is fake, a new system's output whose share caught at the threshold is measured;
    - an ASVspoof-style protocol file (``SPEAKER FILE_ID - SYSTEM bonafide|spoof``; the
      label is the bonafide/spoof token wherever it sits, so 2021-style lines work too),
      or a folder with one .txt protocol. Audio ``FILE_ID.flac`` or ``.wav`` is looked
      for beside the protocol, then in ``flac/`` and ``wav/`` folders beside it.
    """
    if data.is_dir() and (data / "real").is_dir() and (data / "fake").is_dir():
        return _from_folders(data)
    if data.is_dir() and ((data / "real").is_dir() or (data / "fake").is_dir()):
        raise DatasetLayoutError(f"{data}: a labelled folder needs both real/ and fake/")
    if data.is_dir() and not any(data.glob("*.csv")) and not any(data.glob("*.txt")):
        fakes = [LabelledFile(path, True) for path in _audio_files(data)]
        if fakes:
            return fakes
    target = _single_listing(data) if data.is_dir() else data
    if not target.is_file():
        raise DatasetLayoutError(f"{data} does not exist")
    if target.suffix.lower() == ".csv":
        return _from_csv(target)
    return _from_protocol(target)


def _single_listing(folder: Path) -> Path:
    listings = sorted(folder.glob("*.csv")) or sorted(folder.glob("*.txt"))
    if len(listings) != 1:
        raise DatasetLayoutError(
            f"{folder}: expected real/ and fake/ subfolders, or exactly one .csv or "
            f"protocol .txt file (found {len(listings)})"
        )
    return listings[0]


def _audio_files(folder: Path) -> list[Path]:
    return [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES
    ]


def _from_folders(root: Path) -> list[LabelledFile]:
    items = []
    for name, is_fake in (("real", False), ("fake", True)):
        for path in sorted((root / name).rglob("*")):
            if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
                items.append(LabelledFile(path, is_fake))
    return items


def _parse_label(token: str, where: str) -> int:
    label = _LABELS.get(token.strip().lower())
    if label is None:
        raise DatasetLayoutError(f"{where}: unknown label {token!r} (real/fake, bonafide/spoof)")
    return label


def _from_csv(listing: Path) -> list[LabelledFile]:
    items = []
    with listing.open(newline="") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip():
                continue
            if number == 1 and row[-1].strip().lower() == "label":
                continue
            if len(row) != 2:
                raise DatasetLayoutError(f"{listing}:{number}: expected 'path,label'")
            path = Path(row[0].strip())
            path = path if path.is_absolute() else listing.parent / path
            items.append(LabelledFile(path, bool(_parse_label(row[1], f"{listing}:{number}"))))
    return items


def _from_protocol(protocol: Path) -> list[LabelledFile]:
    items = []
    for number, line in enumerate(protocol.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        labels = [f for f in fields if f.lower() in {"bonafide", "spoof"}]
        if len(fields) < 2 or len(labels) != 1:
            raise DatasetLayoutError(
                f"{protocol}:{number}: expected 'SPEAKER FILE_ID - SYSTEM bonafide|spoof'"
            )
        is_fake = bool(_parse_label(labels[0], f"{protocol}:{number}"))
        items.append(LabelledFile(_protocol_audio(protocol.parent, fields[1]), is_fake))
    return items


def _protocol_audio(root: Path, file_id: str) -> Path:
    candidates = [
        folder / f"{file_id}{suffix}"
        for folder in (root, root / "flac", root / "wav")
        for suffix in (".flac", ".wav")
    ]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _split(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError("labels and scores must have the same shape")
    fake, real = scores[labels], scores[~labels]
    if fake.size == 0 or real.size == 0:
        raise ValueError("metrics need at least one real and one fake score")
    return fake, real


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: P(a fake outscores a real), ties counting one half.

    Computed from average ranks (Mann-Whitney U), O(n log n).
    """
    fake, real = _split(labels, scores)
    pooled = np.concatenate([fake, real])
    order = np.argsort(pooled, kind="mergesort")
    ranks = np.empty(pooled.size)
    ranks[order] = np.arange(1, pooled.size + 1)
    values, inverse = np.unique(pooled, return_inverse=True)
    mean_rank = np.bincount(inverse, weights=ranks) / np.bincount(inverse)
    fake_rank_sum = mean_rank[inverse[: fake.size]].sum()
    u = fake_rank_sum - fake.size * (fake.size + 1) / 2
    return float(u / (fake.size * real.size))


def error_rates(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float]:
    """(FPR, FNR) when a score >= ``threshold`` is called fake.

    FPR: share of real files called fake; FNR: share of fake files called real.
    """
    fake, real = _split(labels, scores)
    return float(np.mean(real >= threshold)), float(np.mean(fake < threshold))


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) as ASVspoof's reference code computes it.

    Every observed score (and +inf) is tried as a threshold; at the one where FPR and FNR
    are closest, the EER is their mean.
    """
    fake, real = _split(labels, scores)
    thresholds = np.append(np.unique(np.concatenate([fake, real])), np.inf)
    # Counting through sorted scores: share of real >= t, share of fake < t.
    fpr = 1.0 - np.searchsorted(np.sort(real), thresholds, side="left") / real.size
    fnr = np.searchsorted(np.sort(fake), thresholds, side="left") / fake.size
    best = int(np.argmin(np.abs(fnr - fpr)))
    return float((fpr[best] + fnr[best]) / 2), float(thresholds[best])


def summarize(
    items: list[LabelledFile], scores: list[float | None], threshold: float | None
) -> dict[str, float | int | None]:
    """The evaluate command's figures for one model; files without a score are left out.

    EER and AUC are None unless both classes have a scored file; FPR and FNR are None
    also when the model has no shipped threshold. ``caught``: the share of scored fakes at or
    above the shipped threshold (with fakes only, the one figure there is).
    """
    if len(items) != len(scores):
        raise ValueError("one score per item expected")
    kept = [(item.is_fake, s) for item, s in zip(items, scores, strict=True) if s is not None]
    labels = np.array([fake for fake, _ in kept], dtype=bool)
    values = np.array([s for _, s in kept], dtype=np.float64)
    n_fake, n_real = int(labels.sum()), int((~labels).sum())
    result: dict[str, float | int | None] = {
        "eer": None,
        "auc": None,
        "fpr": None,
        "fnr": None,
        "n_real": n_real,
        "n_fake": n_fake,
        "caught": None,
    }
    if n_fake and threshold is not None:
        result["caught"] = float(np.mean(values[labels] >= threshold))
    if n_fake and n_real:
        result["eer"] = equal_error_rate(labels, values)[0]
        result["auc"] = roc_auc(labels, values)
        if threshold is not None:
            result["fpr"], result["fnr"] = error_rates(labels, values, threshold)
    return result


def choose_threshold(scores: np.ndarray, target_fpr: float) -> float:
    """Threshold letting at most floor(target_fpr * n) of the authentic ``scores`` reach it.

    It sits halfway, in log-odds, between the last authentic score allowed above it and the
    next one: these detectors score authentic audio above 0.99, where halfway in
    probability would be indistinguishable from either neighbour.
    """
    ranked = np.sort(scores)[::-1]
    allowed = math.floor(target_fpr * ranked.size)
    below = log_odds(float(ranked[allowed]))
    above = below + 1.0 if allowed == 0 else log_odds(float(ranked[allowed - 1]))
    threshold = float(f"{1.0 / (1.0 + math.exp(-(below + above) / 2)):.12g}")
    # Rounding, or scores saturated at 1.0, must never let the last excluded score reach it.
    return max(threshold, float(np.nextafter(float(ranked[allowed]), np.inf)))

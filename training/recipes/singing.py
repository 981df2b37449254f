"""Recipe of the singing detector (soundscape-sing): a head on a frozen anti-spoofing backbone,
chosen leave-one-system-out on the singing corpus (``soundscape data singing``).

1. Verses: every verse of the singing corpus, synthetic, converted or real, in two versions:
   a cappella, through ``training.augment`` (sample rate drawn in 16-48 kHz, a codec
   condition, gain: no giveaways); and mixed over a real instrumental of its split (the
   real-music corpus) at a vocal-to-accompaniment level drawn in -6..+6 dB, the mix through
   ``training.augment`` as the service would receive it, then separated by REPET-SIM as the
   service separates a track.
2. Real songs with vocals (``../shared/audio/songs``): each song's first SONG_SECONDS under
   SONG_CONDITIONS drawn conditions, separated, and cut into windows inside the phrases its
   karaoke note file says are sung (``training.corpus.notes``). They only calibrate.
3. One window of WINDOW samples at 16 kHz per verse version (verses last 5-15 s), embedded by
   each backbone: AASIST and AASIST-L (MIT, trained on speech; shippable) and the CtrSVDD baselines
   (trained on singing deepfakes; no published licence: anchors, never shipped).
4. Choice by leave-one-system-out: each synthesis or conversion system held out in turn, each
   candidate fitted on the other systems' train split and the real train split, one threshold
   (the service does not know whether a voice came alone) set on the calibration reals (the
   corpus's held-out real singing in both versions and the real songs) at ``target_fpr``,
   detection measured on every verse of the held-out system, a cappella and mixed apart.
   Systems of one demo page share authors and data; holding out a page is not done here.
5. The best shippable candidate is fitted on the train split; its threshold is set on the
   calibration reals, and the false positives reported are those same reals (in sample:
   there is no other real singing to measure them on). The checkpoint holds the head and names
   its backbone (whose weights are not copied).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.augment import condition_excerpt, item_rng, mix_over, read_mono
from training.corpus.demo_pages import DemoRecord, load_demo_manifest
from training.corpus.notes import sung_phrases, sung_spans
from training.corpus.records import MUSIC, load_manifest
from training.datasets import single_thread
from training.evaluation.metrics import choose_threshold, roc_auc
from training.recipes.calibration import clopper_pearson
from training.recipes.config import Progress, require_known_candidates
from workers.compute.audio import resample
from workers.mixture.classifier import MixtureClassifier, fit_classifier, predict
from workers.networks.singing_detector import (
    BACKBONES,
    SAMPLE_RATE,
    WINDOW,
    embed_windows,
    load_backbone,
    save_singing_checkpoint,
)

SEPARATION_RATE = 44100
ACAPPELLA, MIXED = "acappella", "mixed"
TRAIN, VALIDATION, CALIBRATION = "train", "validation", "calibration"
REAL_SONG = "real-song"
SONG_SECONDS = 150.0
SONG_CONDITIONS = 2
SONG_WINDOWS = 6
MIN_BED_SECONDS = 20.0


@dataclass(frozen=True)
class SingingConfig:
    seed: int = 7
    excerpt_seconds: float = 8.0
    vocal_db: tuple[float, float] = (-6.0, 6.0)
    target_fpr: float = 0.005
    steps: int = 400
    weights_dir: Path | None = None
    cache_dir: Path | None = None
    workers: int | None = None
    """Processes embedding windows (default: one per CPU)."""
    candidates: tuple[str, ...] = (
        "svdd-raw-zero-shot", "svdd-lfcc-zero-shot", "aasist-zero-shot", "aasist-l-zero-shot",
        "aasist-linear", "aasist-mlp", "aasist-l-linear", "aasist-l-mlp", "svdd-raw-linear",
        "svdd-lfcc-linear",
    )  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A backbone, and how its window is turned into P(synthetic): the backbone's own output
    as published (``zero_shot``), or a head fitted here on its embedding."""

    name: str
    backbone: str
    hidden: int = 0
    zero_shot: bool = False

    @property
    def shippable(self) -> bool:
        return not self.zero_shot and BACKBONES[self.backbone].licensed


CANDIDATES = {
    c.name: c
    for c in (
        Candidate("svdd-raw-zero-shot", "svdd-raw", zero_shot=True),
        Candidate("svdd-lfcc-zero-shot", "svdd-lfcc", zero_shot=True),
        Candidate("aasist-zero-shot", "aasist", zero_shot=True),
        Candidate("aasist-l-zero-shot", "aasist-l", zero_shot=True),
        Candidate("aasist-linear", "aasist"),
        Candidate("aasist-mlp", "aasist", hidden=32),
        Candidate("aasist-l-linear", "aasist-l"),
        Candidate("aasist-l-mlp", "aasist-l", hidden=32),
        Candidate("svdd-raw-linear", "svdd-raw"),
        Candidate("svdd-lfcc-linear", "svdd-lfcc"),
    )
}


@dataclass
class Row:
    """One window: a verse version or a real song's sung phrase, and each backbone's output."""

    item_id: str
    system: str  # the generator, "ground-truth"/"nus-48e"/"prompt" for real verses, REAL_SONG
    label: int
    split: str
    version: str
    condition: str
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


def _window(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One WINDOW-sample window at a drawn position (repeat-padded when shorter)."""
    if signal.size < WINDOW:
        signal = np.tile(signal, int(np.ceil(WINDOW / max(1, signal.size))))[:WINDOW]
    start = int(rng.integers(0, signal.size - WINDOW + 1))
    return np.ascontiguousarray(signal[start : start + WINDOW], dtype=np.float32)


def separate_vocals(mix: np.ndarray, separator: Any) -> np.ndarray:
    """The vocal stem of a mono mix at SEPARATION_RATE, mono at SAMPLE_RATE."""
    vocals, _ = separator.separate(np.stack([mix, mix]))
    return resample(vocals.mean(axis=0), SEPARATION_RATE, SAMPLE_RATE)


def verse_windows(
    item: DemoRecord,
    singing_dir: Path,
    beds: Sequence[tuple[Path, float]],
    separator: Any,
    config: SingingConfig,
) -> list[tuple[str, str, np.ndarray]]:
    """(version, condition, window) of one verse: a cappella, and over a bed then separated."""
    rng = item_rng(item.item_id, 0, config.seed)
    mono, rate = read_mono(singing_dir / "audio" / f"{item.item_id}.flac", 0.0, 1e9)
    span = int(config.excerpt_seconds * rate)
    if mono.size > span:
        first = int(rng.integers(0, mono.size - span))
        mono = mono[first : first + span]
    alone, drawn_alone = condition_excerpt(mono, rate, rng, SAMPLE_RATE)
    bed_path, bed_seconds = beds[int(rng.integers(len(beds)))]
    start = float(rng.uniform(0.0, max(0.0, bed_seconds - config.excerpt_seconds - 2.0)))
    bed, bed_rate = read_mono(bed_path, start, config.excerpt_seconds + 2.0)
    mixed = mix_over(
        resample(mono, rate, SEPARATION_RATE),
        resample(bed, bed_rate, SEPARATION_RATE),
        float(rng.uniform(*config.vocal_db)),
    )
    coded, drawn_mixed = condition_excerpt(mixed, SEPARATION_RATE, rng, SEPARATION_RATE)
    stem = separate_vocals(coded, separator)
    return [
        (ACAPPELLA, drawn_alone.condition, _window(alone, rng)),
        (MIXED, drawn_mixed.condition, _window(stem, rng)),
    ]


def song_windows(
    song: Path, notes: Path, draw: int, separator: Any, config: SingingConfig
) -> list[tuple[str, str, np.ndarray]]:
    """Windows of a real song's separated vocals inside its sung phrases, under one drawn
    condition: up to SONG_WINDOWS phrases long enough for a window, in song order."""
    rng = item_rng(song.stem, draw, config.seed)
    mono, rate = read_mono(song, 0.0, SONG_SECONDS)
    coded, drawn = condition_excerpt(mono, rate, rng, SEPARATION_RATE)
    stem = separate_vocals(coded, separator)
    seconds = WINDOW / SAMPLE_RATE
    phrases = [
        (a, b)
        for a, b in sung_phrases(sung_spans(notes))
        if b - a >= seconds and int(a * SAMPLE_RATE) + WINDOW <= stem.size
    ]
    return [
        (f"{a:.2f}", drawn.condition, stem[int(a * SAMPLE_RATE) : int(a * SAMPLE_RATE) + WINDOW])
        for a, _ in phrases[:SONG_WINDOWS]
    ]


def _beds(real_dir: Path) -> dict[str, list[tuple[Path, float]]]:
    """Instrumental real music of the real-music corpus by split: (path, seconds)."""
    beds: dict[str, list[tuple[Path, float]]] = {}
    for track in load_manifest(real_dir):
        if (
            track.kind == MUSIC
            and not track.has_vocals
            and track.duration_seconds >= MIN_BED_SECONDS
        ):
            path = real_dir / "audio" / f"{track.track_id}.flac"
            beds.setdefault(track.split, []).append((path, track.duration_seconds))
    return beds


def _songs(songs_dir: Path) -> list[tuple[Path, Path]]:
    """(audio, notes) of every song with a note file beside it."""
    out = []
    for notes in sorted(songs_dir.glob("*.notes.txt")):
        stem = notes.name[: -len(".notes.txt")]
        audio = [songs_dir / f"{stem}{suffix}" for suffix in (".mp3", ".ogg")]
        audio = [p for p in audio if p.is_file()]
        if audio:
            out.append((audio[0], notes))
    return out


WINDOWS_VERSION = 1
"""Bump when what ``verse_windows`` or ``song_windows`` cut changes: cached windows are
keyed by it, with the job, its audio's sha256, the seed and the conditioning code."""


def _windows_key(job_id: str, digest: str, beds: Sequence[str], config: SingingConfig) -> str:
    """Key of a job's windows: WINDOWS_VERSION, the job, its audio's sha256, the beds it may
    draw from (the order matters: a bed is drawn by index), the shaping settings and the
    code that conditions, separates and resamples."""
    training, workers = (
        Path(__file__).resolve().parents[1],
        Path(__file__).resolve().parents[2] / "workers",
    )
    code = b"".join(
        path.read_bytes()
        for path in (
            training / "augment.py",
            training / "conditions.py",
            training / "corpus" / "notes.py",
            workers / "networks" / "repet_sim.py",
            workers / "compute" / "audio.py",
        )
    )
    text = json.dumps(
        [WINDOWS_VERSION, job_id, digest, list(beds), config.seed, config.excerpt_seconds,
         list(config.vocal_db), SEPARATION_RATE, SONG_SECONDS, SONG_WINDOWS, WINDOW]
    )  # fmt: skip
    return hashlib.sha256(code + text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Job:
    """A verse of the corpus, or one drawn condition of a real song."""

    key: str
    verse: DemoRecord | None = None
    song: tuple[Path, Path, int] | None = None


def _jobs(
    singing_dir: Path,
    songs_dir: Path | None,
    beds: dict[str, list[tuple[Path, float]]],
    real_dir: Path,
    config: SingingConfig,
) -> list[Job]:
    digests = {t.track_id: t.sha256 for t in load_manifest(real_dir)}
    bed_ids = {
        split: [f"{p.stem}:{digests.get(p.stem, '')}" for p, _ in paths]
        for split, paths in beds.items()
    }
    jobs = [
        Job(
            _windows_key(item.item_id, item.sha256, bed_ids.get(item.split, []), config), verse=item
        )
        for item in load_demo_manifest(singing_dir)
    ]
    for song, notes in _songs(songs_dir) if songs_dir is not None else []:
        digest = hashlib.sha256(song.read_bytes() + notes.read_bytes()).hexdigest()
        for draw in range(SONG_CONDITIONS):
            key = _windows_key(f"{song.stem}:{draw}", digest, [], config)
            jobs.append(Job(key, song=(song, notes, draw)))
    return jobs


def build_rows(
    singing_dir: Path,
    real_dir: Path,
    songs_dir: Path | None,
    config: SingingConfig,
    backbones: Sequence[str],
    progress: Progress | None = None,
) -> list[Row]:
    """Every window of the recipe with each backbone's embedding and score. Under
    ``config.cache_dir`` the windows are kept per job and the embeddings per job and backbone,
    so another backbone reuses the windows."""
    beds = _beds(real_dir)
    jobs = _jobs(singing_dir, songs_dir, beds, real_dir, config)
    tasks = [(job, beds, singing_dir, config, tuple(backbones)) for job in jobs]
    count = min(config.workers or os.cpu_count() or 1, len(jobs)) or 1
    rows: list[Row] = []
    with ProcessPoolExecutor(count, initializer=single_thread) as pool:
        for done, job_rows in enumerate(pool.map(_job_rows, tasks), start=1):
            rows += job_rows
            if progress is not None:
                progress("singing windows", done, len(jobs))
    return rows


Meta = tuple[str, str, int, str, str, str]


def _job_rows(
    task: tuple[Job, dict[str, list[tuple[Path, float]]], Path, SingingConfig, tuple[str, ...]],
) -> list[Row]:
    """Pool worker: the rows of one job, from the cache where it holds them."""
    job, beds, singing_dir, config, backbones = task
    found = _read_windows(config, job.key)
    if found is None:
        found = _cut_windows(job, beds, singing_dir, config)
        _write_windows(config, job.key, *found)
    meta, windows = found
    if job.verse is not None:  # labels and split as the manifest says now, not as cached
        item = job.verse
        meta = [(item.item_id, item.generator, int(item.kind == "ai"), item.split, v, c)
                for _, _, _, _, v, c in meta]  # fmt: skip
    rows = [Row(*m) for m in meta]
    if not rows:
        return rows
    for name in backbones:
        embedded = _read_embeddings(config, job.key, name)
        if embedded is None:
            embedded = embed_windows(load_backbone(name, config.weights_dir), windows)
            _write_embeddings(config, job.key, name, *embedded)
        for row, embedding, score in zip(rows, *embedded, strict=True):
            row.embeddings[name] = embedding
            row.scores[name] = float(score)
    return rows


def _cut_windows(
    job: Job, beds: dict[str, list[tuple[Path, float]]], singing_dir: Path, config: SingingConfig
) -> tuple[list[Meta], np.ndarray]:
    from workers.networks.repet_sim import RepetSimSeparator

    separator = RepetSimSeparator()
    if job.verse is not None:
        item = job.verse
        if item.split not in beds:
            raise ValueError(f"the real-music corpus has no instrumental of split {item.split}")
        windows = verse_windows(item, singing_dir, beds[item.split], separator, config)
        label = int(item.kind == "ai")
        meta = [(item.item_id, item.generator, label, item.split, v, c) for v, c, _ in windows]
    else:
        assert job.song is not None
        song, notes, draw = job.song
        windows = song_windows(song, notes, draw, separator, config)
        meta = [(f"{song.stem}@{at}", REAL_SONG, 0, CALIBRATION, MIXED, c) for at, c, _ in windows]
    stacked = np.stack([w for _, _, w in windows]) if windows else np.zeros((0, WINDOW), np.float32)
    return meta, stacked


def _cache_file(config: SingingConfig, name: str) -> Path | None:
    return None if config.cache_dir is None else config.cache_dir / name


def _save(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _read_windows(config: SingingConfig, key: str) -> tuple[list[Meta], np.ndarray] | None:
    path = _cache_file(config, f"singing-windows-{key}.npz")
    if path is None or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        meta = [tuple(m) for m in json.loads(str(data["meta"]))]
        return meta, data["windows"]


def _write_windows(config: SingingConfig, key: str, meta: list[Meta], windows: np.ndarray) -> None:
    path = _cache_file(config, f"singing-windows-{key}.npz")
    if path is not None:
        _save(path, meta=np.array(json.dumps(meta)), windows=windows)


def _embedding_name(key: str, backbone: str) -> str:
    from workers.networks.weights import load_manifest

    digest = load_manifest()[backbone].sha256 or ""
    return f"singing-{backbone}-{digest[:12]}-{key}.npz"


def _read_embeddings(
    config: SingingConfig, key: str, backbone: str
) -> tuple[np.ndarray, np.ndarray] | None:
    path = _cache_file(config, _embedding_name(key, backbone))
    if path is None or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return data["embeddings"], data["scores"]


def _write_embeddings(
    config: SingingConfig, key: str, backbone: str, embeddings: np.ndarray, scores: np.ndarray
) -> None:
    path = _cache_file(config, _embedding_name(key, backbone))
    if path is not None:
        _save(path, embeddings=embeddings, scores=scores)


def fit_head(candidate: Candidate, rows: Sequence[Row], config: SingingConfig) -> MixtureClassifier:
    """The candidate's head on the rows' embeddings, each system of fakes weighted equally."""
    x = np.stack([r.embeddings[candidate.backbone] for r in rows]).astype(np.float32)
    y = np.array([r.label for r in rows], dtype=np.float32)
    per_system: dict[str, int] = {}
    for r in rows:
        per_system[r.system] = per_system.get(r.system, 0) + 1
    weight = np.array([1.0 / per_system[r.system] if r.label else 1.0 for r in rows])
    return fit_classifier(x, y, hidden=candidate.hidden, steps=config.steps, seed=config.seed,
                          sample_weight=weight)  # fmt: skip


def score_rows(
    candidate: Candidate, model: MixtureClassifier | None, rows: Sequence[Row]
) -> np.ndarray:
    if not rows:
        return np.zeros(0)
    if candidate.zero_shot:
        return np.array([r.scores[candidate.backbone] for r in rows])
    assert model is not None
    return predict(model, np.stack([r.embeddings[candidate.backbone] for r in rows]))


def calibration_reals(rows: Sequence[Row]) -> list[Row]:
    """Real windows held out of every fit: the corpus's validation reals and the real songs."""
    return [r for r in rows if not r.label and r.split != TRAIN]


@dataclass
class SystemOut:
    system: str
    detection: dict[str, float]
    auc: dict[str, float]
    threshold: float
    n: int


def leave_one_system_out(
    candidate: Candidate, rows: Sequence[Row], config: SingingConfig
) -> list[SystemOut]:
    reals = calibration_reals(rows)
    out = []
    for system in sorted({r.system for r in rows if r.label}):
        train = [r for r in rows if r.split == TRAIN and r.system != system]
        model = None if candidate.zero_shot else fit_head(candidate, train, config)
        real_scores = score_rows(candidate, model, reals)
        threshold = choose_threshold(real_scores, config.target_fpr)
        detection, auc = {}, {}
        for version in (ACAPPELLA, MIXED):
            held = score_rows(
                candidate, model, [r for r in rows if r.system == system and r.version == version]
            )
            detection[version] = float(np.mean(held >= threshold))
            versioned = np.array(
                [s for s, r in zip(real_scores, reals, strict=True) if r.version == version]
            )
            auc[version] = roc_auc(
                np.r_[np.zeros(versioned.size), np.ones(held.size)], np.r_[versioned, held]
            )
        n = sum(1 for r in rows if r.system == system)
        out.append(SystemOut(system, detection, auc, threshold, n))
    return out


def summarise(held_out: Sequence[SystemOut]) -> dict[str, Any]:
    return {
        "mean_detection": {
            v: float(np.mean([h.detection[v] for h in held_out])) for v in (ACAPPELLA, MIXED)
        },
        "worst_detection": {
            v: float(min(h.detection[v] for h in held_out)) for v in (ACAPPELLA, MIXED)
        },
        "mean_auc": {v: float(np.mean([h.auc[v] for h in held_out])) for v in (ACAPPELLA, MIXED)},
        "held_out": [asdict(h) for h in held_out],
    }


def false_positives(scores: np.ndarray, rows: Sequence[Row], threshold: float) -> dict[str, Any]:
    """Windows and items (a song or a verse counts once) at or above ``threshold``."""
    crossed: dict[str, bool] = {}
    for s, r in zip(scores, rows, strict=True):
        key = r.item_id.split("@")[0]
        crossed[key] = crossed.get(key, False) or bool(s >= threshold)
    over = int(sum(crossed.values()))
    low, high = clopper_pearson(over, max(len(crossed), 1))
    return {"windows": len(rows), "windows_over": int(np.sum(scores >= threshold)),
            "items": len(crossed), "items_over": over, "fpr": over / max(len(crossed), 1),
            "fpr_ci95": [low, high]}  # fmt: skip


def train_singing(
    singing_dir: Path,
    real_dir: Path,
    songs_dir: Path | None,
    out: Path,
    config: SingingConfig,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The whole recipe: rows, leave-one-system-out, fit, calibration, checkpoint."""
    require_known_candidates(config.candidates, CANDIDATES)
    chosen = [CANDIDATES[n] for n in config.candidates]
    if not any(c.shippable for c in chosen):
        raise ValueError(
            "no shippable candidate among --candidate: the zero-shot and CtrSVDD ones only compare"
        )
    backbones = sorted({c.backbone for c in chosen})
    rows = build_rows(singing_dir, real_dir, songs_dir, config, backbones, progress)
    results = {c.name: leave_one_system_out(c, rows, config) for c in chosen}
    shippable = [c for c in chosen if c.shippable]

    def rank(c: Candidate) -> tuple[float, float, float]:
        s = summarise(results[c.name])
        mean, worst, auc = (
            float(np.mean(list(s[key].values())))
            for key in ("mean_detection", "worst_detection", "mean_auc")
        )
        return mean, worst, auc

    best = max(shippable, key=rank)
    model = fit_head(best, [r for r in rows if r.split == TRAIN], config)
    reals = calibration_reals(rows)
    real_scores = score_rows(best, model, reals)
    threshold = choose_threshold(real_scores, config.target_fpr)
    fakes = [r for r in rows if r.split == VALIDATION and r.label]
    fake_scores = score_rows(best, model, fakes)
    report = {
        "recipe": "singing",
        "chosen": best.name,
        "backbone": best.backbone,
        "leave_one_system_out": {name: summarise(res) for name, res in results.items()},
        "calibration": {
            "threshold": threshold,
            "target_fpr": config.target_fpr,
            "all": false_positives(real_scores, reals, threshold),
            "real_songs": false_positives(
                real_scores[[r.system == REAL_SONG for r in reals]],
                [r for r in reals if r.system == REAL_SONG],
                threshold,
            ),
        },  # fmt: skip
        "validation": {
            version: float(
                np.mean(
                    [
                        s >= threshold
                        for s, r in zip(fake_scores, fakes, strict=True)
                        if r.version == version
                    ]
                )
            )
            for version in (ACAPPELLA, MIXED)
        },
        "windows": _counts(rows),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
    }
    save_singing_checkpoint(model, best.backbone, out, report)
    return report


def _counts(rows: Sequence[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        key = f"{r.split}/{'fake' if r.label else 'real'}/{r.version}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

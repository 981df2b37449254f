"""The windows of the singing recipe (``training.recipes.singing``) and their cache.

Verses of the singing corpus a cappella, and mixed over a real instrumental then separated by
REPET-SIM as the service separates a track, both through the no-giveaway conditions of
``training.augment``; real songs cut where their karaoke note files say the voice sings. One
window of WINDOW samples at 16 kHz per verse version, embedded by each backbone. Under a cache
folder the windows are kept per job and the embeddings per job and backbone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.augment import condition_excerpt, item_rng, mix_over, read_mono
from training.corpus.demo_pages import DemoRecord, load_demo_manifest
from training.corpus.notes import sung_phrases, sung_spans
from training.corpus.records import MUSIC, load_manifest
from training.datasets import single_thread
from training.recipes.config import Progress
from workers.compute.audio import resample
from workers.networks.singing_detector import SAMPLE_RATE, WINDOW, embed_windows, load_backbone

SEPARATION_RATE = 44100
ACAPPELLA, MIXED = "acappella", "mixed"
TRAIN, VALIDATION, CALIBRATION = "train", "validation", "calibration"
REAL_SONG = "real-song"
SONG_SECONDS = 150.0
SONG_CONDITIONS = 2
SONG_WINDOWS = 6
MIN_BED_SECONDS = 20.0


@dataclass(frozen=True)
class WindowsConfig:
    seed: int = 7
    excerpt_seconds: float = 8.0
    vocal_db: tuple[float, float] = (-6.0, 6.0)
    weights_dir: Path | None = None
    cache_dir: Path | None = None
    workers: int | None = None
    """Processes cutting and embedding windows (default: one per CPU)."""


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
    config: WindowsConfig,
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
    song: Path, notes: Path, draw: int, separator: Any, config: WindowsConfig
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


def _windows_key(job_id: str, digest: str, beds: Sequence[str], config: WindowsConfig) -> str:
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
    config: WindowsConfig,
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
    config: WindowsConfig,
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
    task: tuple[Job, dict[str, list[tuple[Path, float]]], Path, WindowsConfig, tuple[str, ...]],
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
    job: Job, beds: dict[str, list[tuple[Path, float]]], singing_dir: Path, config: WindowsConfig
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


def _cache_file(config: WindowsConfig, name: str) -> Path | None:
    return None if config.cache_dir is None else config.cache_dir / name


def _save(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _read_windows(config: WindowsConfig, key: str) -> tuple[list[Meta], np.ndarray] | None:
    path = _cache_file(config, f"singing-windows-{key}.npz")
    if path is None or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        meta = [tuple(m) for m in json.loads(str(data["meta"]))]
        return meta, data["windows"]


def _write_windows(config: WindowsConfig, key: str, meta: list[Meta], windows: np.ndarray) -> None:
    path = _cache_file(config, f"singing-windows-{key}.npz")
    if path is not None:
        _save(path, meta=np.array(json.dumps(meta)), windows=windows)


def _embedding_name(key: str, backbone: str) -> str:
    from workers.networks.weights import load_manifest

    digest = load_manifest()[backbone].sha256 or ""
    return f"singing-{backbone}-{digest[:12]}-{key}.npz"


def _read_embeddings(
    config: WindowsConfig, key: str, backbone: str
) -> tuple[np.ndarray, np.ndarray] | None:
    path = _cache_file(config, _embedding_name(key, backbone))
    if path is None or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return data["embeddings"], data["scores"]


def _write_embeddings(
    config: WindowsConfig, key: str, backbone: str, embeddings: np.ndarray, scores: np.ndarray
) -> None:
    path = _cache_file(config, _embedding_name(key, backbone))
    if path is not None:
        _save(path, embeddings=embeddings, scores=scores)

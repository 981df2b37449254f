"""The singing recipe on tiny corpora: verses a cappella and separated from a mix, a real song
cut where its note file says the voice sings, leave-one-system-out, a loadable detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import WEIGHTS_DIR
from training.corpus.demo_pages import DemoRecord, write_demo_manifest
from training.corpus.records import TrackRecord, write_manifest
from training.recipes import singing
from training.recipes.singing import SingingConfig, fit_head, train_singing
from training.recipes.singing_windows import (
    ACAPPELLA,
    MIXED,
    REAL_SONG,
    Row,
    WindowsConfig,
    build_rows,
)
from workers.networks.singing_detector import (
    WINDOW,
    head_scores,
    load_backbone,
    load_singing_checkpoint,
)

RATE = 44100
pytestmark = pytest.mark.slow  # runs AASIST-L on every window


def _voice(seed: int, seconds: float, rate: int, buzzy: bool) -> np.ndarray:
    """A sung-like tone with vibrato; 'buzzy' ones carry a harsh fixed comb (a crude vocoder)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 220 * 2 ** (rng.integers(0, 12) / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(0.2 / k * np.sin(k * phase) for k in range(1, 8))
    voice = voice * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t) ** 2)
    if buzzy:
        voice = voice + sum(
            0.01 * np.sin(2 * np.pi * f * t) for f in range(1000, rate // 2 - 1000, 1000)
        )
    else:
        voice = voice + 0.005 * rng.standard_normal(t.size)
    return np.asarray(voice, dtype=np.float32)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("singing")
    singing, real, songs = root / "singing", root / "real", root / "songs"
    for folder in (singing / "audio", real / "audio", songs):
        folder.mkdir(parents=True)
    records = []
    for i in range(12):
        system = ("one", "two", "three")[i % 3] if i < 9 else "ground-truth"
        rate = (16000, 24000, 48000)[i % 3]
        split = "validation" if i in (6, 7, 8, 11) else "train"
        sf.write(
            singing / "audio" / f"v{i}.flac", _voice(i, 6.0, rate, system != "ground-truth"), rate
        )
        kind = "real" if system == "ground-truth" else "ai"
        records.append(
            DemoRecord(f"v{i}", "o/page", "c" * 40, f"v{i}.wav", system, kind, "MIT", f"g{i}",
                       6.0, rate, 1, f"{i:064x}", split)
        )  # fmt: skip
    write_demo_manifest(singing, records)
    tracks = []
    rng = np.random.default_rng(0)
    for i, split in enumerate(("train", "validation", "calibration")):
        bed = np.convolve(rng.standard_normal(25 * RATE), np.ones(40) / 40, "same") * 0.3
        sf.write(real / "audio" / f"b{i}.flac", bed.astype(np.float32), RATE)
        tracks.append(TrackRecord(f"b{i}", "debian:x", "1", f"b{i}.ogg", "CC0", 25.0,
                                  f"{i:064x}", False, split))  # fmt: skip
    write_manifest(real, tracks)
    song = 0.5 * _voice(99, 30.0, RATE, False) + 0.1 * rng.standard_normal(30 * RATE).astype(
        np.float32
    )
    sf.write(songs / "Someone_-_Song.ogg", song, RATE)
    notes = ["#BPM:120", "#GAP:1000"] + [f": {b} 36 5 la" for b in range(0, 48 * 8, 48)]
    (songs / "Someone_-_Song.notes.txt").write_text("\n".join(notes) + "\n")
    return singing, real, songs


def test_rows_hold_both_versions_of_every_verse_and_the_song_where_it_is_sung(
    corpora: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config = WindowsConfig(weights_dir=WEIGHTS_DIR, cache_dir=tmp_path / "cache")
    rows = build_rows(*corpora, config, ["aasist-l"])
    verses = [r for r in rows if r.system != REAL_SONG]
    assert sorted({(r.item_id, r.version) for r in verses}) == sorted(
        (f"v{i}", v) for i in range(12) for v in (ACAPPELLA, MIXED)
    )
    song = [r for r in rows if r.system == REAL_SONG]
    # a beat lasts 0.125 s: 4.5 s phrases every 6 s from 1 s; the five that end in the 30 s
    # song, under 2 drawn conditions
    assert len(song) == 10 and {r.split for r in song} == {"calibration"}
    assert {r.item_id.split("@")[1] for r in song} == {f"{1 + 6 * k:.2f}" for k in range(5)}
    assert all(r.embeddings["aasist-l"].shape == (160,) for r in rows)
    windows = sorted((tmp_path / "cache").glob("singing-windows-*.npz"))
    assert len(windows) == 12 + 2  # one per verse and per song draw
    # another backbone reuses the cached windows; the cached embeddings come back identical
    again = build_rows(*corpora, config, ["aasist-l", "svdd-lfcc"])
    assert sorted((tmp_path / "cache").glob("singing-windows-*.npz")) == windows
    assert all(set(r.embeddings) == {"aasist-l", "svdd-lfcc"} for r in again)
    assert [(r.item_id, r.version, r.condition) for r in again] == [
        (r.item_id, r.version, r.condition) for r in rows
    ]
    for a, b in zip(rows, again, strict=True):
        np.testing.assert_array_equal(a.embeddings["aasist-l"], b.embeddings["aasist-l"])
        assert a.scores["aasist-l"] == b.scores["aasist-l"]


def test_the_recipe_holds_each_system_out_and_writes_a_detector(
    corpora: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[list[Row]] = []

    def recording_fit(candidate, rows, config):  # type: ignore[no-untyped-def]
        fits.append(list(rows))
        return fit_head(candidate, rows, config)

    monkeypatch.setattr(singing, "fit_head", recording_fit)
    config = SingingConfig(
        windows=WindowsConfig(weights_dir=WEIGHTS_DIR, cache_dir=tmp_path / "cache"),
        candidates=("aasist-l-zero-shot", "aasist-l-linear", "aasist-l-mlp"),
        steps=100,
    )
    out = tmp_path / "sing.pt"
    report = train_singing(*corpora, out, config)
    json.dumps(report)
    assert report["chosen"] in ("aasist-l-linear", "aasist-l-mlp")  # zero-shot only compares
    for result in report["leave_one_system_out"].values():
        assert [h["system"] for h in result["held_out"]] == ["one", "three", "two"]
        assert set(result["mean_detection"]) == {ACAPPELLA, MIXED}
    # 2 heads x 3 held-out systems, then the chosen head on the whole train split: every fit
    # saw the train split only, and none saw the system it was measured on
    assert len(fits) == 2 * 3 + 1
    held_out = ["one", "three", "two"] * 2
    for rows, system in zip(fits[:-1], held_out, strict=True):
        assert {r.split for r in rows} == {"train"}
        assert system not in {r.system for r in rows}
        assert {r.system for r in rows if r.label} == {"one", "two", "three"} - {system}
    assert {r.split for r in fits[-1]} == {"train"}
    cal = report["calibration"]
    # calibration reals: v11 (both versions) and the song's 10 windows; the song counts once
    assert cal["all"]["windows"] == 12 and cal["all"]["items"] == 2
    assert cal["real_songs"]["items"] == 1
    head, backbone, info = load_singing_checkpoint(out)
    assert backbone == "aasist-l" and info["chosen"] == report["chosen"]
    windows = 0.01 * np.random.default_rng(0).standard_normal((2, WINDOW)).astype(np.float32)
    scores = head_scores(head, load_backbone(backbone, WEIGHTS_DIR), windows)
    assert scores.shape == (2,) and bool(((scores >= 0) & (scores <= 1)).all())


def test_the_recipe_refuses_to_choose_among_anchors_only(
    corpora: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config = SingingConfig(
        windows=WindowsConfig(weights_dir=WEIGHTS_DIR), candidates=("svdd-raw-zero-shot",)
    )
    with pytest.raises(ValueError, match="no shippable candidate"):
        train_singing(*corpora, tmp_path / "x.pt", config)

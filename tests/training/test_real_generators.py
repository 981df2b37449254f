"""The real-generators recipe: giveaway-free conditioning, band-safe features, the whole run on
tiny corpora (leave-one-source-out, calibration under every codec, a loadable checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from training.augment import condition_excerpt, item_rng, mix_over
from training.corpus.demo_pages import DemoRecord, write_demo_manifest
from training.corpus.records import TrackRecord, write_manifest
from training.excerpt_rows import ExcerptConfig, corpus_items, under_every_condition
from training.recipes.real_generators import RecipeConfig, train_real_generators
from workers.mixture import texture
from workers.mixture.classifier import load_checkpoint
from workers.networks.mixture_detector import LoadedMixtureDetector

RATE = 44100


def _noise(seed: int, seconds: float, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def _comb(seed: int, seconds: float, rate: int) -> np.ndarray:
    """Noise plus fixed narrow peaks every 500 Hz: a decoder's fingerprint, crudely."""
    t = np.arange(int(seconds * rate)) / rate
    peaks = sum(0.02 * np.sin(2 * np.pi * f * t) for f in range(500, rate // 2 - 500, 500))
    return (_noise(seed, seconds, rate) + peaks).astype(np.float32)


def test_texture_features_do_not_depend_on_level() -> None:
    audio = _comb(0, 12.0, texture.SAMPLE_RATE)
    loud = texture.texture_frames(audio).window(0.0, 10.0)
    quiet = texture.texture_frames(audio * 0.05).window(0.0, 10.0)
    assert loud.shape == (texture.FEATURE_SIZE,)
    np.testing.assert_allclose(quiet, loud, rtol=0.05, atol=0.05)


def test_the_fingerprint_finds_fixed_peaks_where_noise_has_none() -> None:
    comb = texture.texture_frames(_comb(1, 12.0, texture.SAMPLE_RATE)).window(0.0, 10.0)
    noise = texture.texture_frames(_noise(1, 12.0, texture.SAMPLE_RATE)).window(0.0, 10.0)
    columns = texture.FINGERPRINT_COLUMNS
    assert comb[columns].max() > noise[columns].max() + 10.0  # dB above the envelope


def test_conditioning_is_seeded_and_ends_at_the_detector_rate() -> None:
    mono = _noise(2, 6.0, 32000)
    first, drawn = condition_excerpt(mono, 32000, item_rng("x", 0, 0), texture.SAMPLE_RATE)
    again, _ = condition_excerpt(mono, 32000, item_rng("x", 0, 0), texture.SAMPLE_RATE)
    assert abs(first.size - 6.0 * texture.SAMPLE_RATE) <= 2
    assert np.abs(first).max() <= 0.99 and drawn.rate in (16000, 22050, 24000, 32000, 44100, 48000)
    np.testing.assert_array_equal(first, again)
    _, chosen = condition_excerpt(mono, 32000, item_rng("x", 0, 0), 16000, "mp3-128")
    assert chosen.condition == "mp3-128"


def test_vocals_are_mixed_at_the_asked_level() -> None:
    vocals, bed = _noise(3, 2.0), _noise(4, 3.0) * 3
    mixed = mix_over(vocals, bed, 6.0)
    vocal_part = mixed - bed[: vocals.size]
    ratio = np.sqrt(np.mean(vocal_part**2) / np.mean(bed[: vocals.size] ** 2))
    assert 20 * np.log10(ratio) == pytest.approx(6.0, abs=0.01)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real corpus of noise (train, validation, calibration) and two 'generators' whose
    output carries fixed peaks, published at other rates than the reals."""
    root = tmp_path_factory.mktemp("corpora")
    real, ai = root / "real", root / "ai"
    (real / "audio").mkdir(parents=True)
    (ai / "audio").mkdir(parents=True)
    tracks = []
    for i, split in enumerate(["train"] * 6 + ["validation"] * 2 + ["calibration"] * 4):
        sf.write(real / "audio" / f"r{i}.flac", _noise(i, 12.0), RATE, subtype="PCM_16")
        tracks.append(
            TrackRecord(f"r{i}", "debian:noise", "1", f"r{i}.wav", "CC0", 12.0, f"{i:064x}",
                        False, split, "music" if i % 2 else "other")
        )  # fmt: skip
    write_manifest(real, tracks)
    records = []
    for i in range(12):
        repo, rate = ("a/one", 16000) if i % 2 else ("b/two", 32000)
        sf.write(ai / "audio" / f"f{i}.flac", _comb(100 + i, 10.0, rate), rate, subtype="PCM_16")
        records.append(
            DemoRecord(f"f{i}", repo, "c" * 40, f"f{i}.wav", repo.split("/")[1], "ai", "MIT",
                       f"g{i}", 10.0, rate, 1, f"{i:064x}", "train" if i < 8 else "validation")
        )  # fmt: skip
    write_demo_manifest(ai, records)
    return real, ai


def test_every_held_out_real_is_calibrated_under_every_condition(corpora: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    items = corpus_items(*corpora, None, ExcerptConfig())
    extra = under_every_condition(items)
    held_out = {i.item_id for i in items if not i.label and i.split != "train"}
    assert {i.item_id for i in extra} == held_out
    assert len({i.condition for i in extra}) >= 10 and all(not i.label for i in extra)


def test_the_recipe_runs_leave_one_source_out_and_writes_a_loadable_detector(
    corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    config = RecipeConfig(
        excerpts=ExcerptConfig(excerpt_seconds=10.0, real_music_excerpts=1),
        candidates=("texture-linear", "fingerprint-linear"),
        steps=200,
        workers=2,
        cache_dir=tmp_path / "cache",
    )
    out = tmp_path / "v3.pt"
    report = train_real_generators(*corpora, None, out, config)
    for result in report["leave_one_source_out"].values():
        assert [h["source"] for h in result["held_out"]] == ["a/one", "b/two"]
    calibration = report["calibration"]
    # 2 calibration-split music tracks (r9, r11), each also under every codec condition.
    assert calibration["n"] > 2 * 10
    assert calibration["calibration_split"]["tracks"] == 2
    assert calibration["validation_music"]["tracks"] == 1  # r7; r6 is other real audio
    assert calibration["other_real_audio"]["tracks"] == 3  # r6, r8, r10
    assert calibration["validation_music"]["tracks_over"] == 0  # plain noise is not a comb
    assert report["validation"]["fakes"] == 4
    assert report["validation"]["detection"] == 1.0  # fixed peaks are easy in distribution
    model, info = load_checkpoint(out)
    assert model.feature_set == texture.FEATURES_NAME and info["chosen"] == report["chosen"]
    detector = LoadedMixtureDetector("v3", SimpleNamespace(path=out, sha256="0" * 64))  # type: ignore[arg-type]
    assert detector.sample_rate == texture.SAMPLE_RATE
    starts, _, scores = detector.score_track(_comb(7, 20.0, texture.SAMPLE_RATE), 5.0)
    assert len(starts) == 3 and all(s is not None for s in scores)
    json.dumps(report)  # plain values only

"""Partial fakes: region choice, equal-power splicing, and whole sets written from real audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.partial import (
    CONTEXT_SECONDS,
    PartialConfig,
    choose_regions,
    crossfade_gains,
    make_partial,
    splice,
    write_partial_set,
)
from training.zoo import load_generator

RATE = 44100
GRIFFIN_LIM = "griffin-lim/stft-44k-n2048-i8"


@pytest.mark.parametrize("seed", range(20))
def test_regions_are_sorted_apart_and_within_bounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    regions = choose_regions(120.0, 3, 10.0, 30.0, 5.0, rng)
    assert len(regions) == 3
    for start, end in regions:
        assert start >= 0.0 and end <= 120.0 and 10.0 - 1e-3 <= end - start <= 30.0 + 1e-3
    for (_, end), (start, _) in zip(regions, regions[1:], strict=False):
        assert start - end >= 5.0 - 1e-3


def test_a_short_track_gets_fewer_regions_and_a_tiny_one_none() -> None:
    rng = np.random.default_rng(0)
    assert len(choose_regions(25.0, 3, 10.0, 12.0, 2.0, rng)) == 2
    assert choose_regions(5.0, 2, 10.0, 12.0, 2.0, rng) == []


def test_crossfade_gains_keep_the_power_constant() -> None:
    out, into = crossfade_gains(1000)
    assert np.allclose(out**2 + into**2, 1.0, atol=1e-6)
    assert out[0] > 0.99 and into[-1] > 0.99


def test_splice_takes_the_fake_inside_and_the_real_outside_with_a_ramp_at_each_edge() -> None:
    real, fake = np.ones((2, 1000), np.float32), -np.ones((2, 1000), np.float32)
    out = splice(real, fake, 300, 700, crossfade=100)
    assert np.all(out[:, :250] == 1.0) and np.all(out[:, 750:] == 1.0)
    assert np.allclose(out[:, 350:650], -1.0)
    # Halfway through a ramp both signals weigh 1/sqrt(2): +1 and -1 cancel.
    assert abs(out[0, 300]) < 0.05 and abs(out[0, 700]) < 0.05


def test_a_region_at_the_start_of_the_track_has_no_ramp_there() -> None:
    real, fake = np.ones((1, 100), np.float32), np.zeros((1, 100), np.float32)
    out = splice(real, fake, 0, 50, crossfade=10)
    assert np.all(out[:, :45] == 0.0) and np.all(out[:, 55:] == 1.0)


def test_make_partial_changes_the_regions_only(audio_dir: Path) -> None:
    from workers.compute.audio import decode_file

    audio = decode_file(audio_dir / "Kevin_MacLeod_-_Vibe_Ace.ogg", RATE, 2, max_seconds=12.0)
    regions = [(3.0, 7.0)]
    out = make_partial(audio, RATE, regions, [load_generator(GRIFFIN_LIM)], 0.05)
    assert out.shape == audio.shape and out.dtype == np.float32
    edge = round(0.05 * RATE)
    untouched = np.r_[0 : 3 * RATE - edge, 7 * RATE + edge : audio.shape[-1]]
    assert np.array_equal(out[:, untouched], audio[:, untouched])
    inside = slice(4 * RATE, 6 * RATE)
    assert not np.allclose(out[:, inside], audio[:, inside], atol=1e-3)
    # The same loudness inside: generators match each channel's RMS.
    ratio = np.sqrt(np.mean(out[:, inside] ** 2) / np.mean(audio[:, inside] ** 2))
    assert 0.5 < ratio < 2.0
    assert CONTEXT_SECONDS > 0


def test_a_set_is_written_with_its_ground_truth_and_every_named_generator(
    audio_dir: Path, tmp_path: Path
) -> None:
    sources = [
        audio_dir / "Kevin_MacLeod_-_Vibe_Ace.ogg",
        audio_dir / "sorohanro_-_solo-trumpet-06.ogg",
    ]
    names = (GRIFFIN_LIM, "codec-tconv/encodec-24k-h320")
    config = PartialConfig(
        generators=names,
        regions_per_track=1,
        min_seconds=3.0,
        max_seconds=4.0,
        min_gap_seconds=1.0,
        max_track_seconds=10.0,
        fit_steps=0,
    )
    truth = write_partial_set(sources, tmp_path, config)
    assert json.loads((tmp_path / "regions.json").read_text()) == truth
    assert set(truth) == {"Kevin_MacLeod_-_Vibe_Ace.flac", "sorohanro_-_solo-trumpet-06.flac"}
    used = json.loads((tmp_path / "generators.json").read_text())
    assert sorted(name for regions in used.values() for name in regions) == sorted(names)
    for name, spans in truth.items():
        info = sf.info(tmp_path / name)
        assert info.samplerate == RATE and info.channels == 2
        assert len(spans) == 1 and 0 <= spans[0][0] < spans[0][1] <= info.duration


def test_the_same_seed_writes_the_same_set(audio_dir: Path, tmp_path: Path) -> None:
    source = [audio_dir / "sorohanro_-_solo-trumpet-06.ogg"]
    config = PartialConfig(
        generators=(GRIFFIN_LIM,),
        regions_per_track=1,
        min_seconds=2.0,
        max_seconds=3.0,
        max_track_seconds=8.0,
        fit_steps=0,
        seed=3,
    )
    first = write_partial_set(source, tmp_path / "a", config)
    second = write_partial_set(source, tmp_path / "b", config)
    assert first == second
    name = next(iter(first))
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

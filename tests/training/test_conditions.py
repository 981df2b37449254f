"""Codec conditions: shape, dtype, time alignment, band limits and errors."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from training.conditions import (
    CONDITIONS,
    RATE,
    CodecError,
    UnknownConditionError,
    apply_condition,
    available_conditions,
    random_condition,
)

MAX_LAG_SECONDS = 0.002


@pytest.fixture(scope="module")
def excerpt(audio_dir: Path) -> np.ndarray:
    """Four seconds of real jazz, float32 (2, n) at 44.1 kHz."""
    audio, rate = sf.read(str(audio_dir / "Kevin_MacLeod_-_Vibe_Ace.ogg"), dtype="float32")
    stereo = librosa.resample(audio.T, orig_sr=rate, target_sr=RATE) if rate != RATE else audio.T
    start = 10 * RATE
    return np.ascontiguousarray(stereo[:, start : start + 4 * RATE], dtype=np.float32)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    """Two seconds of white noise, which has energy up to 22 kHz."""
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal((2, 2 * RATE))).astype(np.float32)


def lag_samples(reference: np.ndarray, degraded: np.ndarray) -> int:
    """Lag of `degraded` behind `reference` at the peak of their cross-correlation."""
    a, b = reference.mean(axis=0), degraded.mean(axis=0)
    size = 2 * len(a)
    correlation = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.concatenate([np.arange(0, len(a)), np.arange(-len(a), 0)])
    return int(lags[np.argmax(correlation)])


def high_band_share(audio: np.ndarray, above_hz: float) -> float:
    """Share of spectral power above `above_hz`."""
    power = np.abs(np.fft.rfft(audio.mean(axis=0))) ** 2
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / RATE)
    return float(power[freqs > above_hz].sum() / power.sum())


def test_every_registered_condition_is_available_here() -> None:
    assert available_conditions() == CONDITIONS


@pytest.mark.parametrize("condition", CONDITIONS)
def test_condition_keeps_shape_dtype_and_time_alignment(
    excerpt: np.ndarray, condition: str
) -> None:
    degraded = apply_condition(excerpt, RATE, condition)

    assert degraded.shape == excerpt.shape
    assert degraded.dtype == np.float32
    assert abs(lag_samples(excerpt, degraded)) <= MAX_LAG_SECONDS * RATE


@pytest.mark.parametrize("condition", ["mp3-128", "aac-96", "opus-48"])
def test_condition_is_deterministic(excerpt: np.ndarray, condition: str) -> None:
    first = apply_condition(excerpt, RATE, condition)

    assert np.array_equal(first, apply_condition(excerpt, RATE, condition))


def test_mp3_96_removes_content_above_16_khz(noise: np.ndarray) -> None:
    assert high_band_share(apply_condition(noise, RATE, "mp3-96"), 16500.0) < 1e-3


def test_pcm_keeps_content_above_16_khz(noise: np.ndarray) -> None:
    kept = apply_condition(noise, RATE, "pcm")

    assert np.array_equal(kept, noise)
    assert high_band_share(kept, 16500.0) > 0.2


def test_rate_22050_band_limits_to_11_khz(noise: np.ndarray) -> None:
    assert high_band_share(apply_condition(noise, RATE, "rate-22050"), 11500.0) < 1e-3


def test_a_chained_condition_band_limits_before_it_encodes(noise: np.ndarray) -> None:
    chained = apply_condition(noise, RATE, "rate-22050+vorbis-q2")
    vorbis = apply_condition(noise, RATE, "vorbis-q2")

    assert high_band_share(chained, 11500.0) < 1e-3
    assert high_band_share(vorbis, 11500.0) > 0.05  # the encoder alone keeps that band
    assert not np.array_equal(chained, apply_condition(noise, RATE, "rate-22050"))


def test_mono_input_comes_back_mono(excerpt: np.ndarray) -> None:
    mono = excerpt[:1]

    assert apply_condition(mono, RATE, "aac-160").shape == mono.shape


def test_unknown_condition_raises_naming_it(excerpt: np.ndarray) -> None:
    with pytest.raises(UnknownConditionError, match="'mp3-7'"):
        apply_condition(excerpt, RATE, "mp3-7")


def test_other_sample_rates_are_refused(excerpt: np.ndarray) -> None:
    with pytest.raises(CodecError, match="'mp3-128' expects 44100 Hz"):
        apply_condition(excerpt, 48000, "mp3-128")


def test_more_than_two_channels_are_refused() -> None:
    with pytest.raises(CodecError, match="'mp3-128' expects mono or stereo"):
        apply_condition(np.zeros((3, RATE), dtype=np.float32), RATE, "mp3-128")


def test_random_condition_draws_every_condition_reproducibly() -> None:
    draws = [random_condition(np.random.default_rng(3)) for _ in range(2)]
    rng = np.random.default_rng(0)

    assert draws[0] == draws[1]
    assert {random_condition(rng) for _ in range(500)} == set(CONDITIONS)

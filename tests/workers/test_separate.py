"""The separate stage: stems, vocal activity on real recordings, loading and fallback."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from app.errors import WeightsChecksumError
from workers.pipeline.audio import decode_file
from workers.pipeline.repet_sim import RepetSimSeparator
from workers.pipeline.separate import Separation, load_separator, separate
from workers.pipeline.types import ModelInfo

SR = 44100
INSTRUMENTAL = "Kevin_MacLeod_-_Vibe_Ace.ogg"
SONG = "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
# Two LibriSpeech readers laid over the instrumental at these offsets (seconds).
SPEECH_AT = (("198-209-0000.ogg", 8.0), ("3436-172162-0000.ogg", 36.0))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.fixture(scope="module")
def speech_over_music(audio_dir: Path) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The whole of "Vibe Ace" with speech at a lead-vocal level (RMS 0.7 x the music's).

    Returns the (2, n) float32 mix at 44.1 kHz and the (start, end) seconds of each speech.
    """
    music = decode_file(audio_dir / INSTRUMENTAL, sample_rate=SR, channels=2)
    mix = music.copy()
    spans = []
    for name, offset in SPEECH_AT:
        speech = decode_file(audio_dir / name, sample_rate=SR, channels=2)
        speech *= 0.7 * _rms(music) / _rms(speech)
        start = int(offset * SR)
        mix[:, start : start + speech.shape[1]] += speech
        spans.append((offset, offset + speech.shape[1] / SR))
    return mix, spans


@pytest.fixture(scope="module")
def fallback_result(speech_over_music) -> Separation:
    mix, _ = speech_over_music
    return separate(mix, SR, RepetSimSeparator())


def test_fallback_stems_are_stereo_float32_at_44k_and_as_long_as_the_mix(
    speech_over_music, fallback_result
):
    mix, _ = speech_over_music
    assert fallback_result.sample_rate == SR
    for stem in (fallback_result.vocals, fallback_result.accompaniment):
        assert stem.shape == mix.shape and stem.dtype == np.float32
    assert fallback_result.separator == ModelInfo("repet-sim", None)
    assert len(fallback_result.activity.level) == math.ceil(mix.shape[1] / (0.1 * SR))


def test_fallback_stems_sum_back_to_the_mixture(speech_over_music, fallback_result):
    mix, _ = speech_over_music
    rebuilt = fallback_result.vocals + fallback_result.accompaniment
    np.testing.assert_allclose(rebuilt, mix, atol=1e-5)


def test_fallback_vocal_activity_is_high_over_speech_and_low_elsewhere(
    speech_over_music, fallback_result
):
    mix, spans = speech_over_music
    activity = fallback_result.activity
    duration = mix.shape[1] / SR
    gaps = [(0.0, spans[0][0]), (spans[0][1] + 1.0, spans[1][0]), (spans[1][1] + 1.0, duration)]
    for start, end in spans:
        assert activity.fraction_active(start, end) > 0.6, (start, end)
    quiet = sum(activity.fraction_active(s, e) * (e - s) for s, e in gaps)
    assert quiet / sum(e - s for s, e in gaps) < 0.2


def test_fallback_finds_the_vocals_of_a_real_song(audio_dir: Path):
    song = decode_file(audio_dir / SONG, sample_rate=SR, channels=2, max_seconds=30)
    activity = separate(song, SR, RepetSimSeparator()).activity
    # The voice enters after an instrumental intro of about 11 s.
    assert activity.fraction_active(0.0, 10.0) < 0.2
    assert activity.fraction_active(12.0, 30.0) > 0.4


def test_separate_resamples_and_makes_mono_input_stereo(audio_dir: Path):
    speech = decode_file(audio_dir / SPEECH_AT[0][0], sample_rate=16000, channels=1,
                         max_seconds=3)
    result = separate(speech, 16000, RepetSimSeparator())
    assert result.vocals.shape == (2, 3 * SR)
    assert result.sample_rate == SR


def test_fraction_active_counts_frames_starting_in_the_interval(fallback_result):
    activity = fallback_result.activity
    assert activity.fraction_active(5.0, 5.0) == 0.0
    assert activity.fraction_active(1.0, 1.1) == float(activity.active[10])


def test_missing_htdemucs_weights_fall_back_to_repet_sim_with_a_warning(tmp_path: Path):
    separator, warnings = load_separator("htdemucs", tmp_path)
    assert separator.info.name == "repet-sim"
    assert warnings == ("htdemucs weights not installed: used repet-sim, quality is lower",)


def test_htdemucs_file_failing_its_checksum_is_an_error_not_a_fallback(tmp_path: Path):
    damaged = tmp_path / "demucs" / "955717e8-8726e21a.th"
    damaged.parent.mkdir()
    damaged.write_bytes(b"not the published htdemucs weights")
    with pytest.raises(WeightsChecksumError, match="htdemucs"):
        load_separator("htdemucs", tmp_path)


def test_unknown_separator_is_rejected(tmp_path: Path):
    with pytest.raises(ValueError, match="known: htdemucs, repet-sim"):
        load_separator("spleeter", tmp_path)


@pytest.fixture(scope="module")
def tiny_htdemucs_file(tmp_path_factory) -> Path:
    """A randomly initialised HTDemucs (depth 4, nfft 4096, 8 channels) saved as a package.

    Same format as the published files: ``{klass, args, kwargs, state}`` saved by
    demucs's ``save_with_checksum`` as ``<signature>-<sha256 prefix>.th``.
    """
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state, save_with_checksum

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], audio_channels=2,
                     samplerate=SR, channels=8, depth=4, nfft=4096)
    args, kwargs = model._init_args_kwargs
    package = {"klass": HTDemucs, "args": args, "kwargs": kwargs,
               "state": get_state(model, None)}
    folder = tmp_path_factory.mktemp("demucs_repo")
    save_with_checksum(package, folder / "tinyhtd.th")
    (path,) = folder.glob("tinyhtd-*.th")
    return path


def test_tiny_htdemucs_package_loads_and_separates_a_real_excerpt(
    tiny_htdemucs_file: Path, audio_dir: Path
):
    import torch

    from workers.pipeline.demucs_separator import DemucsSeparator

    info = ModelInfo("tiny-htdemucs", None)
    separator = DemucsSeparator.from_file(tiny_htdemucs_file, info, torch.device("cpu"))
    song = decode_file(audio_dir / SONG, sample_rate=SR, channels=2, max_seconds=3.3)
    result = separate(song, SR, separator, warnings=("random weights: test only",))
    assert result.sample_rate == SR
    assert result.vocals.shape == result.accompaniment.shape == song.shape
    assert result.vocals.dtype == np.float32
    assert result.separator is info and result.warnings == ("random weights: test only",)
    np.testing.assert_allclose(result.vocals + result.accompaniment, song, atol=1e-4)
    assert np.abs(result.vocals).max() > 0  # the network ran: random weights are not silent

"""The mixture classifier: fitting, the checkpoint round trip, window features of a track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.evaluation.metrics import roc_auc
from workers.mixture.classifier import (
    MIN_WINDOW_LEVEL_DB,
    WINDOW_SECONDS,
    fit_classifier,
    load_checkpoint,
    predict,
    save_checkpoint,
    track_windows,
)
from workers.mixture.features import FEATURE_SIZE, SAMPLE_RATE


def _blobs(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.normal(0.0, 1.0, (n, FEATURE_SIZE))
    fake = rng.normal(0.0, 1.0, (n, FEATURE_SIZE))
    fake[:, 3] += shift
    return np.concatenate([real, fake]).astype(np.float32), np.repeat([0, 1], n)


def test_a_linear_classifier_learns_a_separating_feature_and_generalises() -> None:
    x, y = _blobs(200, 4.0, seed=0)
    model = fit_classifier(x, y, steps=300)
    x_test, y_test = _blobs(200, 4.0, seed=1)
    assert roc_auc(y_test, predict(model, x_test)) > 0.95


def test_a_classifier_on_chosen_columns_ignores_the_others() -> None:
    x, y = _blobs(200, 3.0, seed=0)
    blind = fit_classifier(x, y, steps=300, columns=[0, 1, 2])
    assert 0.35 < roc_auc(y, predict(blind, x)) < 0.65


def test_checkpoint_round_trip_keeps_every_prediction(tmp_path: Path) -> None:
    x, y = _blobs(100, 2.0, seed=0)
    model = fit_classifier(x, y, hidden=8, steps=50, columns=list(range(10, 40)))
    save_checkpoint(model, tmp_path / "m.pt", {"threshold": 0.7})
    loaded, info = load_checkpoint(tmp_path / "m.pt")
    assert info == {"threshold": 0.7}
    np.testing.assert_allclose(predict(loaded, x), predict(model, x))


def test_a_foreign_checkpoint_is_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a version-1 mixture checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_windows_cover_the_track_at_the_hop_and_end_with_it() -> None:
    rng = np.random.default_rng(0)
    mono = rng.normal(0, 0.1, int(25.5 * SAMPLE_RATE)).astype(np.float32)
    windows = track_windows(mono, hop_seconds=5.0)
    assert windows.starts_seconds == (0.0, 5.0, 10.0, 15.0, 15.5)
    assert windows.ends_seconds[-1] == pytest.approx(25.5)
    assert windows.features.shape == (5, FEATURE_SIZE)
    assert np.isfinite(windows.features).all()


def test_a_track_shorter_than_a_window_is_one_window() -> None:
    mono = np.random.default_rng(0).normal(0, 0.1, 3 * SAMPLE_RATE).astype(np.float32)
    windows = track_windows(mono, hop_seconds=1.0)
    assert windows.starts_seconds == (0.0,) and windows.ends_seconds == (3.0,)
    assert WINDOW_SECONDS > 3.0


def test_windows_quieter_than_the_floor_are_left_unscored() -> None:
    rng = np.random.default_rng(0)
    mono = rng.normal(0, 0.1, 40 * SAMPLE_RATE).astype(np.float32)  # about -20 dBFS
    mono[15 * SAMPLE_RATE :] *= 10 ** ((MIN_WINDOW_LEVEL_DB - 15) / 20)  # then -55 dB lower
    windows = track_windows(mono, hop_seconds=5.0)
    x, y = _blobs(50, 2.0, seed=0)
    scores = windows.scores(fit_classifier(x, y, steps=10))

    # Windows start every 5 s; the one over 10-20 s is half loud, so loud on average; the one
    # at 15 s may catch the last loud samples in its first fine frame.
    assert windows.audible.tolist()[:3] == [True] * 3
    assert windows.audible.tolist()[4:] == [False] * 3
    assert [s is None for s in scores] == [not a for a in windows.audible]
    assert all(0.0 <= s <= 1.0 for s in scores if s is not None)


def test_digital_silence_is_unscored_and_a_quiet_passage_is_scored() -> None:
    silence = np.zeros(12 * SAMPLE_RATE, dtype=np.float32)
    quiet = np.random.default_rng(1).normal(0, 10 ** (-55 / 20), 12 * SAMPLE_RATE)

    assert not track_windows(silence, 1.0).audible.any()
    assert track_windows(quiet.astype(np.float32), 1.0).audible.all()


@pytest.mark.parametrize("n", [8192, 12287, 12288, 3 * SAMPLE_RATE + 7])
def test_frame_energy_is_the_mean_square_under_each_fine_frame(n: int) -> None:
    from workers.mixture.features import FINE_HOP, FINE_NFFT, fine_power, frame_energy

    signal = np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32)
    energy = frame_energy(signal)
    direct = [
        np.mean(signal[f * FINE_HOP : f * FINE_HOP + FINE_NFFT].astype(np.float64) ** 2)
        for f in range(len(energy))
    ]

    assert len(energy) == len(fine_power(signal))
    np.testing.assert_allclose(energy, direct, rtol=1e-9)


@pytest.mark.parametrize("block_frames", [1, 3, 64])
def test_spectra_in_blocks_equal_one_whole_track_pass(audio_dir, block_frames: int) -> None:
    """fine_power and phase_counts work block by block (bounded memory); any block size
    gives what one block holding the whole track gives (phase counts up to the rounding of
    numpy's row sums, which depends on the number of rows)."""
    from workers.compute.audio import decode_file
    from workers.mixture.features import fine_power, phase_counts

    song = decode_file(audio_dir / "Kevin_MacLeod_-_Vibe_Ace.ogg", SAMPLE_RATE, 1, 6.0)[0]
    whole = 1 << 30
    np.testing.assert_array_equal(
        fine_power(song, block_frames), fine_power(song, block_frames=whole)
    )
    np.testing.assert_allclose(
        phase_counts(song, block_frames=block_frames),
        phase_counts(song, block_frames=whole),
        rtol=1e-6,
        atol=1e-4,
    )
    assert phase_counts(song).shape == (1 + (song.size - 2048) // 512, 24)

"""The vocal-activity classifier: its features, its checkpoint, the shipped one on real songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.hashing import sha256_file
from workers.compute import vocal_features
from workers.compute.audio import decode_file
from workers.compute.separation import separate
from workers.compute.vocal_activity import VocalActivity, measure_activity
from workers.compute.vocal_classifier import (
    GATE_DB,
    MODEL_NAME,
    combine,
    load_shipped_classifier,
    load_vocal_classifier,
    save_vocal_classifier,
)
from workers.mixture.classifier import fit_classifier, predict
from workers.networks.repet_sim import RepetSimSeparator
from workers.networks.roles import ModelInfo
from workers.networks.weights import BUNDLED_DIR, load_manifest

SUNG = "songs/Jonathan_Coulton_-_Monkey_Shines.mp3"
# Not among the recordings the shipped classifier was fitted on (see weights/manifest.yaml).
WHALE = "glacier-bay-humpback.ogg"


def _excerpt(audio_dir: Path, name: str, start: float, seconds: float) -> np.ndarray:
    return decode_file(audio_dir / name, 44100, 2, max_seconds=start + seconds)[
        :, int(start * 44100) :
    ]


def test_features_have_one_row_per_tenth_of_a_second_and_a_median_free_frame() -> None:
    rng = np.random.default_rng(0)
    mix = (0.1 * rng.standard_normal((2, 3 * 16000 + 5))).astype(np.float32)
    features = vocal_features.frame_features(mix)
    assert features.shape == (31, vocal_features.FEATURE_SIZE)
    assert np.all(np.isfinite(features))
    # the per-frame block has its per-track median removed; the context blocks follow it
    assert np.allclose(np.median(features[:, : vocal_features.PER_FRAME], axis=0), 0.0, atol=1e-5)


def test_a_mono_file_gets_the_same_frames_as_its_stereo_copy() -> None:
    rng = np.random.default_rng(1)
    mono = (0.1 * rng.standard_normal((1, 16000))).astype(np.float32)
    np.testing.assert_allclose(
        vocal_features.frame_features(mono),
        vocal_features.frame_features(np.repeat(mono, 2, axis=0)),
        atol=1e-4,
    )


def test_checkpoint_round_trip_keeps_predictions_and_operating_point(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    features = rng.standard_normal((200, vocal_features.FEATURE_SIZE)).astype(np.float32)
    labels = (features[:, 0] > 0).astype(np.float32)
    model = fit_classifier(features, labels, steps=20)
    path = tmp_path / "vad.pt"
    save_vocal_classifier(model, path, threshold=0.35, smooth_frames=7, info={"note": "test"})
    loaded = load_vocal_classifier(path, ModelInfo("test-vad", sha256_file(path)))
    assert loaded.threshold == 0.35 and loaded.smooth_frames == 7
    assert loaded.training == {"note": "test"}
    np.testing.assert_allclose(predict(loaded.model, features), predict(model, features))


def test_a_checkpoint_of_something_else_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "other.pt"
    torch.save({"version": 1, "state_dict": {}}, foreign)
    with pytest.raises(ValueError, match="not a vocal-activity checkpoint"):
        load_vocal_classifier(foreign, ModelInfo("x", None))
    model = fit_classifier(
        np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1], np.float32), steps=1
    )
    narrow = tmp_path / "narrow.pt"
    save_vocal_classifier(model, narrow, 0.5, 9, {})
    with pytest.raises(ValueError, match="other features"):
        load_vocal_classifier(narrow, ModelInfo("x", None))


def test_the_shipped_checkpoint_is_the_manifest_entry_bundled_in_weights() -> None:
    entry = load_manifest()[MODEL_NAME]
    assert sha256_file(BUNDLED_DIR / entry.file) == entry.sha256
    classifier = load_shipped_classifier(None)
    assert classifier.info == ModelInfo(MODEL_NAME, entry.sha256)
    assert 0.0 < classifier.threshold < 1.0
    assert classifier.training["leave_one_song_out"], "the report travels with the checkpoint"


def test_frames_line_up_with_the_energy_rule_of_the_same_mix(audio_dir: Path) -> None:
    mix = _excerpt(audio_dir, SUNG, 0.0, 4.04)
    probs = load_shipped_classifier(None).probabilities(mix, 44100)
    assert probs.shape == measure_activity(mix, mix, 44100).active.shape == (41,)


def test_a_frame_is_active_by_the_stem_or_by_the_classifier_over_the_gate() -> None:
    loud, quiet = GATE_DB + 5.0, GATE_DB - 5.0
    level = np.array([loud] * 10 + [quiet] * 10 + [loud] * 10, dtype=np.float32)
    stem_active = np.zeros(30, dtype=bool)
    stem_active[12:14] = True
    energy = VocalActivity(0.1, level, stem_active)
    probs = np.array([0.9] * 5 + [0.1] * 5 + [0.9] * 20)
    active = combine(probs, 0.5, energy)
    # classifier over the gate: frames 0-4 and 20-29 (the level's running mean decides the
    # frames near the steps); the stem alone: 12-13; the classifier under the gate: never
    assert active[:4].all() and not active[6:12].any() and active[12:14].all()
    assert not active[15:16].any() and active[25:].all()


def test_shipped_classifier_marks_a_sung_verse_and_not_a_whale(audio_dir: Path) -> None:
    classifier = load_shipped_classifier(None)

    def active_share(name: str, start: float) -> float:
        mix = _excerpt(audio_dir, name, start, 20.0)
        return float(
            separate(mix, 44100, RepetSimSeparator(), (), classifier).activity.active.mean()
        )

    assert active_share(SUNG, 5.0) > 0.6
    assert active_share(WHALE, 0.0) < 0.2

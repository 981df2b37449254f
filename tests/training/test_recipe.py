"""Pieces of the training recipe: the choice among candidates, calibration with unscored
items, and the cache of rows and calibration features."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training.datasets import REAL, Example, ExampleSet
from training.recipes.cache import cache_key, cached
from training.recipes.calibration import calibrate
from training.recipes.config import TrainConfig
from training.recipes.selection import FamilyOut, _choice_key


def test_the_candidate_detecting_most_unseen_families_at_the_threshold_is_chosen() -> None:
    ranks_well = FamilyOut({"a": 0.99, "b": 0.95}, {"a": 0.3, "b": 0.2})
    detects_more = FamilyOut({"a": 0.90, "b": 0.80}, {"a": 0.6, "b": 0.5})
    tie_better_auc = FamilyOut({"a": 0.92, "b": 0.85}, {"a": 0.5, "b": 0.6})

    assert _choice_key(detects_more) > _choice_key(ranks_well)
    assert _choice_key(tie_better_auc) > _choice_key(detects_more)  # same mean, better worst AUC


def _valid(scores: list[float]) -> tuple[ExampleSet, np.ndarray]:
    examples = tuple(Example("t", i, "codec-tconv", "g", 1.0, "pcm") for i in range(len(scores)))
    examples += (Example("r", 0, REAL, "", 0.0, "pcm"),)
    empty = np.zeros((len(examples), 1), dtype=np.float32)
    return ExampleSet(examples, empty, empty, empty), np.array([*scores, 0.1])


def _item(score: float | None, condition: str = "pcm") -> dict[str, object]:
    return {"score": score, "condition": condition, "kind": "music", "track_id": "x"}


def test_an_unscored_calibration_item_is_counted_but_never_a_false_positive() -> None:
    items = [_item(s) for s in np.linspace(0.0, 0.9, 199)] + [_item(None)]
    valid, valid_scores = _valid([0.95, 0.97, 0.99])
    report = calibrate(items, valid, valid_scores, target_fpr=0.005)

    assert report["n"] == 200 and report["unscored"] == 1
    assert report["false_positives"] == 1  # floor(0.005 * 200) items may reach the threshold
    assert 0.9 * (198 / 198) >= report["threshold"] > np.linspace(0.0, 0.9, 199)[-2]
    assert report["authentic_share"] == pytest.approx(
        np.mean([s <= report["authentic_threshold"] for s in np.linspace(0.0, 0.9, 199)])
        * 199
        / 200
    )


def test_the_cache_returns_what_was_built_and_builds_once(tmp_path: Path) -> None:
    config = TrainConfig(cache_dir=tmp_path)
    calls = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"rows": 3}

    assert cached(config, "rows-abc", build) == {"rows": 3}
    assert cached(config, "rows-abc", build) == {"rows": 3}
    assert len(calls) == 1
    assert cached(TrainConfig(), "rows-abc", build) == {"rows": 3}  # no cache folder: builds
    assert len(calls) == 2


def test_the_cache_key_follows_the_corpus_and_the_settings_that_shape_the_rows(
    tmp_path: Path,
) -> None:
    (tmp_path / "manifest.json").write_text('{"tracks": []}')
    config = TrainConfig()
    rows = cache_key(tmp_path, config, "rows")

    assert rows == cache_key(tmp_path, replace(config, classifier_steps=5), "rows")
    assert rows != cache_key(tmp_path, replace(config, generator_steps=5), "rows")
    assert rows != cache_key(tmp_path, config, "calibration")
    (tmp_path / "manifest.json").write_text('{"tracks": [1]}')
    assert rows != cache_key(tmp_path, config, "rows")

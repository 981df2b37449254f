"""Evaluation sets in three layouts, and EER / AUC / error rates against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.evaluation.metrics import (
    DatasetLayoutError,
    LabelledFile,
    choose_threshold,
    equal_error_rate,
    error_rates,
    load_dataset,
    roc_auc,
    summarize,
)

# Hand-worked example. real: 0.1 0.35 0.4 0.8; fake: 0.9 0.6 0.35 0.7.
# AUC: fake 0.9 beats 4 reals, 0.6 beats 3, 0.35 beats 1 and ties 1 (1.5), 0.7 beats 3
#      -> 11.5 / 16 = 0.71875.
# EER: at threshold 0.6, FPR = 1/4 (0.8) and FNR = 1/4 (0.35): EER 0.25.
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
SCORES = np.array([0.1, 0.35, 0.4, 0.8, 0.9, 0.6, 0.35, 0.7])


def test_auc_matches_the_hand_computed_value() -> None:
    assert roc_auc(LABELS, SCORES) == pytest.approx(0.71875)


def test_eer_matches_the_hand_computed_value() -> None:
    eer, threshold = equal_error_rate(LABELS, SCORES)
    assert eer == pytest.approx(0.25) and threshold == pytest.approx(0.6)


def test_eer_averages_fpr_and_fnr_where_they_do_not_meet() -> None:
    # real 0.2 0.3 0.6, fake 0.5 0.7: closest at 0.6 with FPR 1/3, FNR 1/2 -> 5/12.
    eer, threshold = equal_error_rate(
        np.array([0, 0, 0, 1, 1]), np.array([0.2, 0.3, 0.6, 0.5, 0.7])
    )
    assert eer == pytest.approx(5 / 12) and threshold == pytest.approx(0.6)
    assert roc_auc(np.array([0, 0, 0, 1, 1]), np.array([0.2, 0.3, 0.6, 0.5, 0.7])) == pytest.approx(
        5 / 6
    )


def test_perfectly_separated_scores_give_eer_zero_and_auc_one() -> None:
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    assert equal_error_rate(labels, scores)[0] == 0.0
    assert roc_auc(labels, scores) == 1.0
    assert roc_auc(labels, 1 - scores) == 0.0


def test_error_rates_at_a_threshold() -> None:
    assert error_rates(LABELS, SCORES, 0.5) == (pytest.approx(0.25), pytest.approx(0.25))
    assert error_rates(LABELS, SCORES, 0.85) == (pytest.approx(0.0), pytest.approx(0.75))


def test_metrics_need_both_classes() -> None:
    with pytest.raises(ValueError, match="at least one real and one fake"):
        roc_auc(np.array([1, 1]), np.array([0.2, 0.3]))


def test_summary_leaves_out_unscored_files(tmp_path: Path) -> None:
    items = [LabelledFile(tmp_path / f"{i}.wav", bool(label)) for i, label in enumerate(LABELS)]
    result = summarize([*items, LabelledFile(tmp_path / "x.wav", True)], [*SCORES, None], 0.5)
    assert result == {
        "eer": pytest.approx(0.25),
        "auc": pytest.approx(0.71875),
        "fpr": pytest.approx(0.25),
        "fnr": pytest.approx(0.25),
        "n_real": 4,
        "n_fake": 4,
        "caught": pytest.approx(0.75),
    }
    assert summarize(items, list(SCORES), None)["fpr"] is None


def test_a_folder_of_fakes_only_measures_the_share_caught(tmp_path: Path) -> None:
    for name in ("a.flac", "sub/b.mp3", "notes.md"):
        _touch(tmp_path / "new-system" / name)
    items = load_dataset(tmp_path / "new-system")
    assert [(p.path.name, p.is_fake) for p in items] == [("a.flac", True), ("b.mp3", True)]
    result = summarize(items, [0.9, 0.2], 0.5)
    assert result["caught"] == 0.5 and result["auc"] is None and result["n_real"] == 0


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_folder_layout_reads_real_and_fake_recursively(tmp_path: Path) -> None:
    real = _touch(tmp_path / "real" / "a.wav")
    fake = _touch(tmp_path / "fake" / "sys1" / "b.flac")
    _touch(tmp_path / "fake" / "notes.txt")
    assert load_dataset(tmp_path) == [LabelledFile(real, False), LabelledFile(fake, True)]


def test_csv_layout_with_header_and_relative_paths(tmp_path: Path) -> None:
    listing = tmp_path / "set.csv"
    listing.write_text("path,label\nclips/a.wav,bonafide\n/abs/b.wav,fake\nc.wav, REAL\n")
    assert load_dataset(listing) == [
        LabelledFile(tmp_path / "clips" / "a.wav", False),
        LabelledFile(Path("/abs/b.wav"), True),
        LabelledFile(tmp_path / "c.wav", False),
    ]
    assert load_dataset(tmp_path) == load_dataset(listing)


def test_csv_with_an_unknown_label_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "set.csv").write_text("a.wav,maybe\n")
    with pytest.raises(DatasetLayoutError, match="unknown label 'maybe'"):
        load_dataset(tmp_path / "set.csv")


def test_protocol_layout_finds_audio_beside_or_under_flac(tmp_path: Path) -> None:
    beside = _touch(tmp_path / "LA_E_1.wav")
    under = _touch(tmp_path / "flac" / "LA_E_2.flac")
    protocol = tmp_path / "protocol.txt"
    protocol.write_text(
        "LA_0039 LA_E_1 - - bonafide\n"
        "LA_0040 LA_E_2 - A07 spoof\n"
        "LA_0009 LA_E_3 alaw ita_tx A07 spoof notrim eval\n"
    )
    items = load_dataset(protocol)
    assert items[:2] == [LabelledFile(beside, False), LabelledFile(under, True)]
    # A file that is nowhere is still listed (it will be reported as unreadable).
    assert items[2] == LabelledFile(tmp_path / "LA_E_3.flac", True)


def test_a_folder_matching_no_layout_is_explained(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="real/ and fake/"):
        load_dataset(tmp_path)


def test_threshold_lets_through_at_most_the_target_share_of_authentic_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    threshold = choose_threshold(scores, target_fpr=0.1)
    assert 0.9 < threshold < 0.95
    assert np.mean(scores >= threshold) == pytest.approx(0.1)


def test_thresholds_near_one_keep_their_precision() -> None:
    scores = 1.0 - np.array([1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12])
    threshold = choose_threshold(scores, target_fpr=0.1)
    assert 1 - 1e-11 < threshold < 1 - 1e-12
    assert np.mean(scores >= threshold) == pytest.approx(0.1)


def test_with_too_few_scores_for_the_target_the_threshold_sits_above_all() -> None:
    scores = np.array([0.2, 0.9, 0.99])
    threshold = choose_threshold(scores, target_fpr=0.05)
    assert threshold > 0.99 and threshold < 1.0

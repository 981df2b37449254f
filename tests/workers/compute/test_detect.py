"""The detect stage: whole-track windows, vocal-activity masking, aggregate and verdict."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from workers.compute.detection import (
    Detection,
    detect,
    report_fragment,
    score_track,
    score_windows,
)
from workers.compute.report import INCONCLUSIVE, LIKELY_AUTHENTIC, LIKELY_SYNTHETIC
from workers.compute.verdict import decide_verdict
from workers.networks.roles import ModelInfo, MusicThresholds

RATE = 1000  # the test detector's rate: small windows keep the tests fast
INPUT_RATE = 4000
SPEECH_FILE = "198-209-0000.ogg"


@dataclass
class EnergyDetector:
    """P(synthetic) = clip(2 * RMS of the window): loud passages play the fakes."""

    name: str = "energy"
    sample_rate: int = RATE
    window: int = 4 * RATE
    info: ModelInfo = ModelInfo("energy", None)
    batches: list[int] = field(default_factory=list)

    def score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        assert batch.dtype == torch.float32 and batch.shape[1] == self.window
        self.batches.append(batch.shape[0])
        return torch.clamp(2 * batch.pow(2).mean(dim=1).sqrt(), 0.0, 1.0)


@dataclass(frozen=True)
class ActiveBetween:
    """Vocal activity: vocals only between ``start`` and ``end`` seconds."""

    start: float
    end: float

    def fraction_active(self, start_s: float, end_s: float) -> float:
        overlap = max(0.0, min(end_s, self.end) - max(start_s, self.start))
        return overlap / (end_s - start_s)


def _stereo(seconds: float, loud: tuple[float, float] | None = None) -> np.ndarray:
    """A stereo 50 Hz tone at INPUT_RATE, RMS 0.05 (score 0.1), 0.45 (score 0.9) in ``loud``."""
    n = int(seconds * INPUT_RATE)
    gain = np.full(n, 0.05 * np.sqrt(2))
    if loud is not None:
        gain[int(loud[0] * INPUT_RATE) : int(loud[1] * INPUT_RATE)] = 0.45 * np.sqrt(2)
    mono = np.sin(2 * np.pi * 50.0 * np.arange(n) / INPUT_RATE) * gain
    return np.stack([mono, mono]).astype(np.float32)


def _judge(vocals: np.ndarray | None, mix: np.ndarray, **options: Any) -> Detection:
    """``detect`` with the energy vocal detector and the loud-mix detector on MUSIC's bands."""
    return detect(
        vocals,
        mix,
        INPUT_RATE,
        EnergyDetector(),
        threshold=0.5,
        mixture_detector=LoudMixDetector(),
        music_thresholds=MUSIC,
        **options,
    )


def test_windows_cover_the_whole_track_at_the_hop() -> None:
    scores = score_windows(np.zeros(int(10.5 * RATE), np.float32), EnergyDetector())
    assert scores.starts_seconds == (0, 1, 2, 3, 4, 5, 6, 6.5)
    assert scores.ends_seconds[-1] == 10.5
    assert scores.n_scored == 8


def test_windows_are_scored_in_batches_of_the_given_size() -> None:
    detector = EnergyDetector()
    score_windows(np.zeros(13 * RATE, np.float32), detector, batch_size=3)
    assert detector.batches == [3, 3, 3, 1]


def test_short_track_is_scored_as_one_padded_window() -> None:
    scores = score_windows(np.full(1500, 0.2, np.float32), EnergyDetector())
    assert scores.starts_seconds == (0.0,) and scores.ends_seconds == (1.5,)
    assert scores.scores[0] == pytest.approx(0.4, abs=1e-5)


@dataclass
class LoudMixDetector:
    """A mixture detector: P(synthetic) = clip(2 * RMS) of 2 s windows of the full mix."""

    name: str = "loud-mix"
    sample_rate: int = RATE
    info: ModelInfo = ModelInfo("loud-mix", None)

    def score_track(
        self, mono: np.ndarray, hop_seconds: float
    ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        window, hop = 2 * RATE, int(hop_seconds * RATE)
        starts = range(0, max(1, mono.size - window + 1), hop)
        scores = [min(1.0, 2 * float(np.sqrt(np.mean(mono[s : s + window] ** 2)))) for s in starts]
        return (
            tuple(s / RATE for s in starts),
            tuple(min(s + window, mono.size) / RATE for s in starts),
            tuple(scores),
        )


MUSIC = MusicThresholds(synthetic=0.5, authentic=0.2)


def test_a_fake_verse_shows_in_the_vocal_timeline_but_vocals_never_decide() -> None:
    track = _stereo(240.0, loud=(100.0, 120.0))
    result = detect(track, track, INPUT_RATE, EnergyDetector(), threshold=0.5)
    assert result.verdict == INCONCLUSIVE  # no detector calibrated on real music ran
    assert result.scores["vocals"] is not None and result.scores["vocals"] > 0.8
    assert result.scores["overall"] is None
    timeline = result.timeline["vocals"]
    assert len(timeline) == 240 and result.timeline["hop_seconds"] == 1.0
    assert max(timeline[102:118]) > 0.8 and max(timeline[:90]) < 0.2
    assert any("not calibrated on music" in reason for reason in result.reasons)


def test_the_mixture_detector_decides_a_synthetic_verdict_and_says_why() -> None:
    track = _stereo(60.0, loud=(10.0, 50.0))
    result = _judge(track, track)
    assert result.verdict == LIKELY_SYNTHETIC
    assert result.scores["overall"] == result.scores["mixture"] > 0.8
    assert result.reasons[0].startswith("mixture detector loud-mix")
    assert "calibrated on real music" in result.reasons[0]
    assert len(result.timeline["mixture"]) == 60 and max(result.timeline["mixture"][:5]) < 0.2
    assert result.models["mixture_detector"] == ModelInfo("loud-mix", None)


def test_a_quiet_mix_with_vocals_is_not_authentic_until_the_vocals_are_judged() -> None:
    quiet_mix, loud_vocals = _stereo(30.0), _stereo(30.0, loud=(0.0, 30.0))
    result = _judge(loud_vocals, quiet_mix)
    assert result.scores["vocals"] is not None and result.scores["vocals"] > 0.8
    assert result.verdict == INCONCLUSIVE
    assert "no detector calibrated on real singing judged them" in result.reasons[1]
    assert result.thresholds == {"vocals": 0.5, "mixture": 0.5, "mixture_authentic": 0.2}
    assert result.warnings == ()


def test_vocals_judged_by_a_detector_calibrated_on_singing_allow_authentic() -> None:
    quiet_mix, loud_vocals = _stereo(30.0), _stereo(30.0, loud=(0.0, 30.0))
    result = _judge(loud_vocals, quiet_mix, vocals_calibrated=True)
    assert result.verdict == LIKELY_AUTHENTIC
    assert decide_verdict(0.0, MUSIC, vocals_present=True, vocals_judged=True) == LIKELY_AUTHENTIC
    assert decide_verdict(0.0, MUSIC, vocals_present=True) == INCONCLUSIVE


def test_a_quiet_mix_without_a_vocal_stem_is_not_authentic() -> None:
    quiet = _stereo(30.0)
    result = _judge(None, quiet)
    assert result.verdict == INCONCLUSIVE
    assert any("calibrated on real singing" in reason for reason in result.reasons)


def test_a_quiet_instrumental_mix_is_authentic() -> None:
    quiet = _stereo(30.0)
    result = _judge(quiet, quiet, activity=ActiveBetween(50.0, 60.0))
    assert result.scores["vocals"] is None
    assert result.verdict == LIKELY_AUTHENTIC
    assert not any("calibrated on real singing" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        (0.9, LIKELY_SYNTHETIC),
        (0.5, LIKELY_SYNTHETIC),
        (0.49, INCONCLUSIVE),
        (0.21, INCONCLUSIVE),
        (0.2, LIKELY_AUTHENTIC),
        (0.0, LIKELY_AUTHENTIC),
        (None, INCONCLUSIVE),
    ],
)
def test_verdict_bands_between_the_music_thresholds(score: float | None, verdict: str) -> None:
    assert decide_verdict(score, MUSIC) == verdict


def test_without_a_music_calibrated_detector_nothing_is_decided() -> None:
    assert decide_verdict(1.0, None) == INCONCLUSIVE
    assert decide_verdict(0.0, None) == INCONCLUSIVE


def test_windows_without_vocals_are_null_not_authentic() -> None:
    detector = EnergyDetector()
    track = _stereo(20.0, loud=(0.0, 20.0))
    result = detect(
        track, track, INPUT_RATE, detector, threshold=0.5, activity=ActiveBetween(0.0, 8.0)
    )
    windows = result.windows[0]
    # Windows starting at 0..6 s hold >= 50 % vocals (the one at 6 s: 2 of 4 s).
    assert [s is not None for s in windows.scores] == [True] * 7 + [False] * 10
    assert sum(detector.batches) == 7
    assert result.timeline["vocals"][12:] == [None] * 8


def test_no_vocal_activity_warns_and_leaves_vocals_unscored() -> None:
    track = _stereo(12.0)
    result = detect(
        track,
        track,
        INPUT_RATE,
        EnergyDetector(),
        threshold=0.5,
        activity=ActiveBetween(50.0, 60.0),
    )
    assert result.scores["vocals"] is None and result.verdict == INCONCLUSIVE
    assert any("no vocal-active window" in w for w in result.warnings)
    assert all(v is None for v in result.timeline["vocals"])


def test_missing_vocal_stem_scores_the_mix_and_warns() -> None:
    mix = _stereo(30.0, loud=(0.0, 30.0))
    result = detect(None, mix, INPUT_RATE, EnergyDetector(), threshold=0.5)
    assert result.scores["vocals"] is not None and result.scores["vocals"] > 0.8
    assert any("full mix" in w for w in result.warnings)


def test_score_track_matches_the_stage_vocal_score() -> None:
    track = _stereo(40.0, loud=(10.0, 25.0))
    stage = detect(track, track, INPUT_RATE, EnergyDetector(), threshold=0.5)
    assert score_track(track, INPUT_RATE, EnergyDetector()) == stage.scores["vocals"]


def test_report_fragment_is_plain_json() -> None:
    track = _stereo(9.0)
    result = _judge(track, track, activity=ActiveBetween(0.0, 5.0))
    fragment = json.loads(json.dumps(report_fragment(result)))
    assert set(fragment) >= {"verdict", "scores", "thresholds", "timeline", "models", "reasons"}
    assert fragment["models"]["vocal_detector"] == {"name": "energy", "sha256": None}
    assert fragment["timeline"]["vocals"][-1] is None


def _espeak(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    return path


@pytest.mark.slow
def test_aasist_scores_a_whole_stereo_track_and_tells_tts_from_speech(
    audio_dir: Path, weights_dir: Path, tmp_path: Path
) -> None:
    from workers.compute.audio import decode_file
    from workers.networks.registry import load_model

    aasist = load_model("vocal-detector", "aasist", weights_dir)
    speech = decode_file(audio_dir / SPEECH_FILE, 44100, 2, max_seconds=5.5)
    tts = decode_file(_espeak(tmp_path / "tts.wav", "The boats waited by the pier."), 44100, 2)
    real = detect(speech, speech, 44100, aasist, threshold=0.5)
    fake = detect(tts, tts, 44100, aasist, threshold=0.5)
    assert real.windows[0].starts_seconds == (0.0, 1.0, pytest.approx(5.5 - 64600 / 16000))
    assert real.windows[0].ends_seconds[-1] == pytest.approx(5.5)
    assert real.models["vocal_detector"].sha256 == aasist.info.sha256
    assert fake.scores["vocals"] is not None and real.scores["vocals"] is not None
    assert fake.scores["vocals"] > real.scores["vocals"]


def test_every_shipped_detector_carries_a_calibrated_threshold() -> None:
    from workers.networks.registry import specs
    from workers.networks.weights import shipped_threshold

    for name in specs("vocal-detector"):
        assert 0.0 < shipped_threshold(name) < 1.0, name


def test_every_mixture_detector_has_music_thresholds_that_leave_every_verdict_reachable() -> None:
    from workers.networks.registry import specs
    from workers.networks.weights import music_thresholds

    for name in specs("mixture-detector"):
        thresholds = music_thresholds(name)
        assert 0.0 < thresholds.authentic <= thresholds.synthetic < 1.0, name
        assert decide_verdict(1.0, thresholds) == LIKELY_SYNTHETIC
        assert decide_verdict(0.0, thresholds) == LIKELY_AUTHENTIC


def test_a_silent_stretch_of_the_mix_is_unscored_by_the_mixture_detector_and_said() -> None:
    from workers.networks.registry import default_model_name, load_model
    from workers.networks.weights import music_thresholds

    name = default_model_name("mixture-detector")
    rate = 44100
    noise = np.random.default_rng(0).normal(0, 0.1, (2, 20 * rate)).astype(np.float32)
    track = np.concatenate([noise, np.zeros((2, 20 * rate), dtype=np.float32)], axis=1)
    silent = np.zeros((2, 20 * rate), dtype=np.float32)
    mixer = load_model("mixture-detector", name)

    partly = detect(
        track,
        track,
        rate,
        EnergyDetector(),
        threshold=0.5,
        mixture_detector=mixer,
        music_thresholds=music_thresholds(name),
    )
    nothing = detect(
        silent,
        silent,
        rate,
        EnergyDetector(),
        threshold=0.5,
        mixture_detector=mixer,
        music_thresholds=music_thresholds(name),
    )

    mix = partly.windows[1]
    assert mix.source == "mixture" and mix.scores[0] is not None and mix.scores[-1] is None
    assert partly.scores["mixture"] is not None
    assert any("too quiet to score" in w for w in partly.warnings)
    assert nothing.scores["mixture"] is None and nothing.verdict == INCONCLUSIVE
    assert "scored nothing" in nothing.reasons[0]


def _judge_without_vocal_detector(mix: np.ndarray, activity: ActiveBetween) -> Detection:
    return detect(
        mix,
        mix,
        INPUT_RATE,
        None,
        threshold=None,
        mixture_detector=LoudMixDetector(),
        music_thresholds=MUSIC,
        activity=activity,
    )


def test_with_the_vocal_detector_off_vocals_are_neither_scored_nor_reported() -> None:
    quiet = _stereo(30.0)
    result = _judge_without_vocal_detector(quiet, ActiveBetween(0.0, 30.0))
    assert result.scores["vocals"] is None and result.thresholds["vocals"] is None
    assert set(result.models) == {"mixture_detector"}
    assert result.timeline["vocals"] == [] and len(result.windows) == 1
    assert result.warnings == ()  # nothing was asked of the vocals, nothing is missing


@pytest.mark.parametrize(
    ("activity", "verdict"),
    [
        (ActiveBetween(0.0, 30.0), INCONCLUSIVE),  # sung throughout
        (ActiveBetween(10.0, 12.1), INCONCLUSIVE),  # one 4 s window just half sung
        (ActiveBetween(10.0, 11.9), LIKELY_AUTHENTIC),  # no window half sung
        (ActiveBetween(50.0, 60.0), LIKELY_AUTHENTIC),  # instrumental
    ],
)
def test_with_the_vocal_detector_off_vocals_present_reads_the_same_windows(
    activity: ActiveBetween, verdict: str
) -> None:
    """A quiet (authentic-looking) mix: likely_authentic only without vocals, and the
    verdict is the one the vocal detector's own 4 s windows would have given."""
    quiet = _stereo(30.0)
    off = _judge_without_vocal_detector(quiet, activity)
    on = _judge(quiet, quiet, activity=activity)
    assert off.verdict == on.verdict == verdict

"""The separate stage's output names the vocal-activity classifier that marked the frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import WeightsMissingError
from workers.compute import vocal_classifier
from workers.compute.vocal_activity import VocalActivity
from workers.networks.roles import ModelInfo
from workers.stages import separate as separate_stage
from workers.stages.separate import SeparateOutput

ACTIVITY = VocalActivity.from_json(
    {"hop_seconds": 0.1, "level": [-5.0] * 10, "active": [True] * 10}
)


def _output(activity_model: ModelInfo | None) -> SeparateOutput:
    return SeparateOutput(
        "k/vocals.flac", "k/acc.flac", ACTIVITY, ModelInfo("repet-sim", None), (), activity_model
    )


def test_the_classifier_is_stored_and_read_back_and_reported_among_the_models() -> None:
    output = _output(ModelInfo("soundscape-vad", "ab" * 32))
    back = SeparateOutput.from_json(json.loads(json.dumps(output.to_json())))
    assert back.activity_model == ModelInfo("soundscape-vad", "ab" * 32)
    assert output.report()["models"] == {
        "separator": {"name": "repet-sim", "sha256": None},
        "vocal_activity": {"name": "soundscape-vad", "sha256": "ab" * 32},
    }


def test_an_output_stored_before_the_classifier_reads_back_as_the_energy_rule() -> None:
    stored = _output(None).to_json()
    del stored["activity_model"]
    back = SeparateOutput.from_json(stored)
    assert back.activity_model is None
    assert set(back.report()["models"]) == {"separator"}


def test_without_the_checkpoint_the_stage_warns_and_uses_the_energy_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(weights_dir: Path | None) -> None:
        raise WeightsMissingError("weights for soundscape-vad not found")

    monkeypatch.setattr(vocal_classifier, "load_shipped_classifier", missing)
    classifier, warnings = separate_stage._vocal_classifier(None)
    assert classifier is None
    assert warnings == (
        "soundscape-vad weights not installed: vocal activity from the energy rule",
    )

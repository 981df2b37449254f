"""The stage registry builds a chain in which every stage gets its predecessors' typed outputs."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from app.db import session_scope
from app.jobsource import JobSource
from app.tables import Job, Tenant
from workers.compute.identification import ArtistMatch
from workers.compute.localization import Region
from workers.compute.vocal_activity import VocalActivity
from workers.networks.roles import ModelInfo
from workers.runner import check_chain, execute_stage
from workers.runtime import runtime_from
from workers.stages import STAGES
from workers.stages.detect import DetectOutput
from workers.stages.finalize import FinalizeOutput
from workers.stages.identify import IdentifyOutput
from workers.stages.ingest import IngestOutput
from workers.stages.localize import LocalizeOutput
from workers.stages.separate import SeparateOutput

SAMPLES: dict[str, Any] = {
    "ingest": IngestOutput(
        2.0, 44100, 2, "ab" * 32, "wav", "pcm_s16le", -20.0, -1.0, "tenants/t/jobs/j/canonical.flac"
    ),
    "separate": SeparateOutput(
        "k/vocals.flac",
        "k/accompaniment.flac",
        VocalActivity.from_json({"hop_seconds": 0.1, "level": [-5.0] * 20, "active": [True] * 20}),
        ModelInfo("repet-sim", None),
        ("a warning",),
    ),
    "identify": IdentifyOutput(
        (ArtistMatch("a1", "Ada", 0.91, True, ((0.0, 15.0, 0.93),)),),
        None,
        0.83,
        1,
        1.6,
        1,
        ModelInfo("resemblyzer-ge2e", "ef" * 32),
    ),
    "detect": DetectOutput(
        "inconclusive",
        {"vocals": 0.5, "mixture": None, "overall": 0.5},
        {"vocals": 0.9, "mixture": None},
        {"hop_seconds": 1.0, "vocals": [0.5, 0.5], "mixture": []},
        {"vocal_detector": ModelInfo("aasist", "cd" * 32)},
        (),
    ),
    "localize": LocalizeOutput(
        (Region(0.0, 2.0, 0.97, "mixture"),),
        {"thresholds": {"mixture": {"on": 0.9, "off": 0.5}}, "min_duration_seconds": 3.0},
        "k/timeline.png",
    ),
    "finalize": FinalizeOutput(),
}


def test_the_registry_lists_the_stages_in_order_with_their_queues():
    assert [(s.name, s.queue) for s in STAGES] == [
        ("ingest", "cpu"),
        ("separate", "gpu"),
        ("identify", "gpu"),
        ("detect", "gpu"),
        ("localize", "cpu"),
        ("finalize", "cpu"),
    ]


def test_every_input_field_is_the_output_type_of_an_earlier_stage():
    check_chain(STAGES)


def test_every_output_survives_its_json_round_trip():
    for stage in STAGES:
        output = SAMPLES[stage.name]
        assert isinstance(output, stage.output)
        assert stage.output.from_json(output.to_json()).to_json() == output.to_json()


def test_each_stage_receives_its_predecessors_typed_outputs(migrated_settings):
    runtime = runtime_from(migrated_settings)
    job_id = _new_job(migrated_settings.database_url)
    received: dict[str, Any] = {}

    def recording(stage):  # type: ignore[no-untyped-def]
        def run(runtime, job, inputs):  # type: ignore[no-untyped-def]
            received[stage.name] = inputs
            return SAMPLES[stage.name]

        return dataclasses.replace(stage, run=run)

    chain = tuple(recording(stage) for stage in STAGES)
    for stage in chain:
        assert execute_stage(runtime, stage, str(job_id), stages=chain)
    assert received["ingest"] == STAGES[0].input()
    assert _typed(received["separate"].ingest, "ingest")
    assert _typed(received["identify"].separate, "separate")
    assert _typed(received["detect"].separate, "separate")
    assert _typed(received["localize"].detect, "detect")
    earlier = received["finalize"].earlier
    assert [type(o) for o in earlier] == [
        IngestOutput,
        SeparateOutput,
        IdentifyOutput,
        DetectOutput,
        LocalizeOutput,
    ]
    assert all(_typed(o, name) for o, name in zip(earlier, SAMPLES, strict=False))


def _typed(output: Any, stage: str) -> bool:
    """``output`` is the stored output of ``stage``, read back as its own type."""
    sample = SAMPLES[stage]
    return type(output) is type(sample) and output.to_json() == sample.to_json()


def _new_job(database_url: str) -> uuid.UUID:
    job_id = uuid.uuid4()
    with session_scope(database_url) as session:
        tenant = Tenant(name=f"chain-{job_id}")
        session.add(tenant)
        session.flush()
        session.add(
            Job(
                id=job_id,
                tenant_id=tenant.id,
                status="running",
                progress=0.0,
                source=JobSource.upload("a.wav", "k").to_json(),
                attempts=0,
                next_stage=STAGES[0].name,
            )
        )
    return job_id


def test_the_reference_pipeline_ingests_separates_and_enrolls():
    from workers.stages import PIPELINES, REFERENCE_STAGES

    assert [(s.name, s.queue) for s in REFERENCE_STAGES] == [
        ("ingest", "cpu"),
        ("separate", "gpu"),
        ("enroll", "gpu"),
    ]
    assert set(PIPELINES) == {"analysis", "reference"}
    check_chain(REFERENCE_STAGES)

"""The localize stage on stored audio: regions from the detect stage's curves, the
parameters recorded, and the timeline PNG stored as the job's ``timeline`` artifact."""

from __future__ import annotations

import struct
import uuid
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from app import jobstate
from app.db import session_scope
from app.jobsource import JobSource
from app.storage import job_key
from app.tables import Artifact, Job, Tenant
from tests.workers.stages.test_chain import SAMPLES
from workers.networks.roles import ModelInfo
from workers.runner import execute_stage
from workers.runtime import runtime_from
from workers.stages import STAGES
from workers.stages.localize import LocalizeOutput

RATE = 44100
SECONDS = 20
MIX = ModelInfo("soundscape-mix", "ab" * 32, domain="music", calibrated_on_music=True)
SPEECH = ModelInfo("aasist", "cd" * 32, domain="speech", calibrated_on_music=False)
# Synthetic from 6 s to 14 s on the mixture curve; the vocal curve is high everywhere it is
# measured but its detector is not calibrated on music.
MIXTURE = [0.1] * 6 + [0.97] + [1.0] * 6 + [0.92] + [0.1] * 6
VOCALS = [None] * 4 + [0.999] * 12 + [None] * 4


def stored_job(settings, verdict: str):  # type: ignore[no-untyped-def]
    runtime = runtime_from(settings)
    job_id = uuid.uuid4()
    with session_scope(settings.database_url) as session:
        tenant = Tenant(name=f"localize-{job_id}")
        session.add(tenant)
        session.flush()
        key = job_key(tenant.id, job_id, "canonical.flac")
        session.add(
            Job(
                id=job_id,
                tenant_id=tenant.id,
                status="running",
                progress=0.0,
                source=JobSource.upload("verse.wav", key).to_json(),
                attempts=0,
                next_stage="localize",  # detect is done: the hand-off made localize due
            )
        )
    t = np.arange(SECONDS * RATE) / RATE
    audio = 0.3 * np.sin(2 * np.pi * 220 * t)
    flac = settings.data_dir / "canonical.flac"
    sf.write(flac, np.stack([audio, audio], axis=1), RATE, subtype="PCM_24")
    runtime.storage.put_file(key, flac, "audio/flac")
    detect = replace(
        SAMPLES["detect"],
        verdict=verdict,
        thresholds={"vocals": 0.998, "mixture": 0.999999218, "mixture_authentic": 0.7248},
        timeline={"hop_seconds": 1.0, "vocals": VOCALS, "mixture": MIXTURE},
        models={"vocal_detector": SPEECH, "mixture_detector": MIX},
    )
    outputs = {
        "ingest": replace(SAMPLES["ingest"], duration_seconds=float(SECONDS), canonical_key=key),
        "separate": SAMPLES["separate"],
        "detect": detect,
    }
    with runtime.session() as session:
        for name, output in outputs.items():
            jobstate.save_stage_output(session, job_id, name, output.to_json())
    return runtime, job_id


def run_localize(runtime, job_id) -> LocalizeOutput:  # type: ignore[no-untyped-def]
    stage = next(s for s in STAGES if s.name == "localize")
    assert execute_stage(runtime, stage, str(job_id))
    with runtime.session() as session:
        raw = jobstate.stage_outputs(session, job_id, ["localize"])["localize"]
    return LocalizeOutput.from_json(raw)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture()
def settings(migrated_settings):  # type: ignore[no-untyped-def]
    return replace(
        migrated_settings,
        region_on_threshold=0.95,
        region_off_threshold=0.9,
        region_min_seconds=3.0,
        region_merge_gap_seconds=3.0,
    )


def test_regions_come_from_the_calibrated_mixture_curve_only(settings) -> None:  # type: ignore[no-untyped-def]
    runtime, job_id = stored_job(settings, "inconclusive")
    output = run_localize(runtime, job_id)
    assert [(r.start, r.end, r.source) for r in output.regions] == [(6.0, 14.0, "mixture")]
    assert output.regions[0].score == pytest.approx(sum(MIXTURE[6:14]) / 8)
    report = output.report()
    assert report["localization"]["thresholds"] == {"mixture": {"on": 0.95, "off": 0.9}}
    assert report["localization"]["min_duration_seconds"] == 3.0
    assert "aasist is not calibrated on music" in report["localization"]["not_localized"]["vocals"]


def test_the_timeline_picture_is_stored_as_the_timeline_artifact(settings) -> None:  # type: ignore[no-untyped-def]
    runtime, job_id = stored_job(settings, "inconclusive")
    output = run_localize(runtime, job_id)
    assert output.report()["artifacts"] == {"timeline": output.timeline_key}
    with runtime.session() as session:
        row = session.query(Artifact).filter_by(job_id=job_id, name="timeline").one()
        assert row.content_type == "image/png" and row.key == output.timeline_key
    with runtime.storage.open(output.timeline_key) as fh:
        width, height = png_size(fh.read())
    assert width == 1200 and height > 600


def test_a_track_judged_authentic_gets_a_picture_and_no_regions(settings) -> None:  # type: ignore[no-untyped-def]
    runtime, job_id = stored_job(settings, "likely_authentic")
    output = run_localize(runtime, job_id)
    assert output.regions == ()
    with runtime.storage.open(output.timeline_key) as fh:
        assert png_size(fh.read())[0] == 1200

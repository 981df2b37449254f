"""Finalize adapter: write the report from every earlier stage's output, mark the job succeeded."""

from __future__ import annotations

from typing import Any

from workers import jobstate
from workers.jobstate import JobRef
from workers.pipeline.report import build_report
from workers.runtime import Runtime


def run(runtime: Runtime, job: JobRef) -> dict[str, Any]:
    from workers.stages import STAGES  # the registry imports this module

    names = [stage.name for stage in STAGES if stage.name != "finalize"]
    with runtime.session() as session:
        outputs = jobstate.stage_outputs(session, job.id, names)
        report = build_report(outputs[name]["report"] for name in names if name in outputs)
        jobstate.succeed_job(session, job.id, report)
    return {"report": {}}

"""Finalize stage (cpu queue): merge every earlier stage's report keys into the report and
mark the job succeeded (unless it was canceled meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import jobstate
from app.jobstate import JobRef
from workers.compute.report import build_report
from workers.runtime import Runtime
from workers.stages.base import StageOutput


@dataclass(frozen=True)
class FinalizeInput:
    earlier: tuple[StageOutput, ...]


@dataclass(frozen=True)
class FinalizeOutput:
    """Nothing of its own: the report is stored on the job."""

    def to_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FinalizeOutput:
        return cls()

    def report(self) -> dict[str, Any]:
        return {}


def run(runtime: Runtime, job: JobRef, inputs: FinalizeInput) -> FinalizeOutput:
    report = build_report(output.report() for output in inputs.earlier)
    with runtime.session() as session:
        jobstate.succeed_job(session, job.id, report)
    return FinalizeOutput()

"""Finalize stage (cpu queue), the last of the analysis pipeline: merge every earlier stage's
report keys into the report, the job's result (the runner marks the job succeeded with it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.jobstate import JobRef
from workers.compute.report import build_report
from workers.runtime import Runtime
from workers.stages.base import StageOutput


@dataclass(frozen=True)
class FinalizeInput:
    earlier: tuple[StageOutput, ...]


@dataclass(frozen=True)
class FinalizeOutput:
    """The merged report: the job's result, with no report keys of its own."""

    merged: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"report": self.merged}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FinalizeOutput:
        return cls(raw.get("report", {}))

    def report(self) -> dict[str, Any]:
        return {}

    def result(self) -> dict[str, Any]:
        return self.merged


def run(runtime: Runtime, job: JobRef, inputs: FinalizeInput) -> FinalizeOutput:
    return FinalizeOutput(build_report(output.report() for output in inputs.earlier))

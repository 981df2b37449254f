"""The stages of the pipeline, one module each, in the order a job runs them.

Adding a stage means one module here (an input and an output dataclass and
``run(runtime, job, inputs) -> output``) and one line in STAGES; the stage hand-off, the
inline runner and the report pick it up. Stage modules import no torch at import time:
the CPU worker loads this registry too.
"""

from __future__ import annotations

from app.queue import CPU_QUEUE, GPU_QUEUE
from app.tables import ANALYSIS, REFERENCE
from workers.stages import detect, enroll, finalize, identify, ingest, localize, separate
from workers.stages.base import Stage, StageOutput

__all__ = ["PIPELINES", "REFERENCE_STAGES", "STAGES", "Stage", "StageOutput"]

STAGES: tuple[Stage, ...] = (
    Stage("ingest", CPU_QUEUE, ingest.IngestInput, ingest.run, ingest.IngestOutput),
    Stage("separate", GPU_QUEUE, separate.SeparateInput, separate.run, separate.SeparateOutput),
    Stage("identify", GPU_QUEUE, identify.IdentifyInput, identify.run, identify.IdentifyOutput),
    Stage("detect", GPU_QUEUE, detect.DetectInput, detect.run, detect.DetectOutput),
    Stage("localize", CPU_QUEUE, localize.LocalizeInput, localize.run, localize.LocalizeOutput),
    Stage("finalize", CPU_QUEUE, finalize.FinalizeInput, finalize.run, finalize.FinalizeOutput),
)

# A reference recording of an artist is decoded and separated as a track is, then its voice is
# enrolled in the gallery (POST /v1/artists/{id}/references, soundscape artists import).
REFERENCE_STAGES: tuple[Stage, ...] = (
    *(stage for stage in STAGES if stage.name in ("ingest", "separate")),
    Stage("enroll", GPU_QUEUE, enroll.EnrollInput, enroll.run, enroll.EnrollOutput),
)

# What a job runs, by its ``pipeline``.
PIPELINES: dict[str, tuple[Stage, ...]] = {ANALYSIS: STAGES, REFERENCE: REFERENCE_STAGES}

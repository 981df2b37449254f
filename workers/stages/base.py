"""What a stage is: a name, a queue, a typed input, a run function and a typed output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self

from app.jobstate import JobRef
from workers.runtime import Runtime

# An input field of this name receives every earlier stage's output, in pipeline order
# (finalize merges them all); any other field receives the output of the stage it names.
EARLIER = "earlier"


class StageOutput(Protocol):
    """A stage's result: stored as JSON in its StageResult row, read back for later stages."""

    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Self: ...

    def report(self) -> dict[str, Any]:
        """The report keys this stage owns, as plain JSON values."""
        ...


class FinalOutput(StageOutput, Protocol):
    """The output of a pipeline's last stage: it also holds the job's result."""

    def result(self) -> dict[str, Any]:
        """The job's ``result``, stored when the runner marks the job succeeded."""
        ...


@dataclass(frozen=True)
class Stage:
    """One step of the chain. ``run(runtime, job, inputs)`` gets an ``input`` instance built
    by the runner from earlier outputs and returns an ``output`` instance."""

    name: str
    queue: str
    input: type[Any]
    run: Callable[[Runtime, JobRef, Any], StageOutput]
    output: type[StageOutput]

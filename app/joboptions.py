"""A job's analysis options: which optional detectors run, fixed when the job is submitted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.errors import InvalidRequestError

# What each option does, as the API documents it (openapi) and errors name it.
OPTION_HELP = {
    "vocal_detector": (
        "also score the separated vocals with the speech-trained vocal detector (AASIST); "
        "its score is reported, never used for the verdict, and it costs most of the "
        "analysis time"
    ),
}


@dataclass(frozen=True)
class JobOptions:
    """``vocal_detector``: run the speech-trained vocal detector. It does not count toward
    the verdict (it is not calibrated on singing), so it is off unless a deployment
    (SOUNDSCAPE_RUN_VOCAL_DETECTOR) or a job turns it on."""

    vocal_detector: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"vocal_detector": self.vocal_detector}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JobOptions:
        return cls(vocal_detector=bool(raw.get("vocal_detector", False)))


def deployment_options(settings: Settings) -> JobOptions:
    """The options a job gets when it asks for none."""
    return JobOptions(vocal_detector=settings.run_vocal_detector)


def parse_options(raw: Any, default: JobOptions) -> JobOptions:
    """A client's ``options`` object over the deployment's ``default``: each key known and
    a boolean, else InvalidRequestError naming it."""
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise InvalidRequestError('options must be a JSON object, e.g. {"vocal_detector": true}')
    unknown = sorted(set(raw) - set(OPTION_HELP))
    if unknown:
        raise InvalidRequestError(
            f"unknown option {unknown[0]!r}; the options are: {', '.join(sorted(OPTION_HELP))}"
        )
    chosen = default.to_json()
    for key, value in raw.items():
        if not isinstance(value, bool):
            raise InvalidRequestError(f"options.{key} must be true or false")
        chosen[key] = value
    return JobOptions.from_json(chosen)

"""Problem errors: each carries the RFC 9457 `code` and HTTP `status` a client sees."""

from __future__ import annotations


class PipelineError(Exception):
    """A failure the client can act on; its message is the problem's human ``detail``."""

    code = "pipeline_error"
    title = "Processing failed"
    status = 422

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def problem(self) -> dict[str, object]:
        return {
            "type": f"https://soundscape.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }


class NotAudioError(PipelineError):
    code, title, status = "not_audio", "Not an audio file", 415


class UnsupportedFormatError(PipelineError):
    code, title, status = "unsupported_format", "Unsupported audio format", 415


class CorruptAudioError(PipelineError):
    code, title = "corrupt_audio", "Corrupt or truncated audio"


class EmptyAudioError(PipelineError):
    code, title = "empty_audio", "Empty file"


class SilentAudioError(PipelineError):
    code, title = "silent_audio", "Audio is silent"


class TooShortError(PipelineError):
    code, title = "audio_too_short", "Audio too short"


class TooLongError(PipelineError):
    code, title = "audio_too_long", "Audio too long"


class TooLargeError(PipelineError):
    code, title, status = "file_too_large", "File too large", 413


class SourceUnavailableError(PipelineError):
    code, title = "source_unavailable", "Source could not be fetched"


class WeightsMissingError(PipelineError):
    code, title, status = "weights_missing", "Model weights missing", 503


class WeightsChecksumError(PipelineError):
    code, title, status = "weights_checksum_mismatch", "Model weights failed verification", 503


class StageTimeoutError(PipelineError):
    code, title, status = "stage_timeout", "Processing took too long", 504

"""Problem errors: each carries the RFC 9457 `code` and HTTP `status` a client sees."""

from __future__ import annotations


class Problem(Exception):
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


class NotAudioError(Problem):
    code, title, status = "not_audio", "Not an audio file", 415


class UnsupportedFormatError(Problem):
    code, title, status = "unsupported_format", "Unsupported audio format", 415


class CorruptAudioError(Problem):
    code, title = "corrupt_audio", "Corrupt or truncated audio"


class EmptyAudioError(Problem):
    code, title, status = "empty_audio", "Empty file", 400


class SilentAudioError(Problem):
    code, title = "silent_audio", "Audio is silent"


class TooShortError(Problem):
    code, title = "audio_too_short", "Audio too short"


class TooLongError(Problem):
    code, title = "audio_too_long", "Audio too long"


class TooLargeError(Problem):
    code, title, status = "file_too_large", "File too large", 413


class FormFieldTooLargeError(Problem):
    code, title, status = "form_field_too_large", "Form field too large", 413


class TooManyFilesError(Problem):
    code, title, status = "too_many_files", "More than one file", 400


class SourceUnavailableError(Problem):
    code, title = "source_unavailable", "Source could not be fetched"


class WeightsMissingError(Problem):
    code, title, status = "weights_missing", "Model weights missing", 503


class WeightsChecksumError(Problem):
    code, title, status = "weights_checksum_mismatch", "Model weights failed verification", 503


class StageTimeoutError(Problem):
    code, title, status = "stage_timeout", "Processing took too long", 504


class InvalidRequestError(Problem):
    code, title, status = "invalid_request", "Invalid request", 400


class UnauthorizedError(Problem):
    code, title, status = "unauthorized", "Missing or invalid API key", 401


class NotFoundError(Problem):
    code, title, status = "not_found", "Not found", 404


class ConflictError(Problem):
    code, title, status = "conflict", "Conflict", 409


class IdempotencyConflictError(Problem):
    code, title, status = "idempotency_key_reused", "Idempotency key reused", 422


class InternalError(Problem):
    code, title, status = "internal_error", "Internal error", 500


class WorkerLostError(Problem):
    code, title, status = "worker_lost", "Worker lost", 500


class QueueUnavailableError(Problem):
    code, title, status = "queue_unavailable", "Queue unavailable", 503


class DuplicateReferenceError(Problem):
    code, title, status = "duplicate_reference", "Reference already enrolled", 409


class NoVocalsError(Problem):
    code, title = "no_vocals", "No vocals found"


class InvalidItemError(Problem):
    code, title, status = "invalid_item", "Invalid batch item", 400


class DuplicateItemError(Problem):
    code, title, status = "duplicate_custom_id", "custom_id already used in this batch", 409


class TooManyItemsError(Problem):
    code, title, status = "too_many_items", "Too many items", 413


class RateLimitedError(Problem):
    """Too many submissions for one API key; ``retry_after`` seconds until the next window."""

    code, title, status = "rate_limited", "Too many requests", 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class DatabaseUnavailableError(Problem):
    code, title, status = "database_unavailable", "Database unavailable", 503


class StorageUnavailableError(Problem):
    code, title, status = "storage_unavailable", "Storage unavailable", 503

"""HTTP layer: blueprints, problem+json errors, the per-request database session."""

from __future__ import annotations

import logging
from typing import IO, Any, cast

from flask import Flask, Request, Response, g, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from app.api.validation import MAX_METADATA_BYTES
from app.dependencies import unavailable
from app.errors import (
    FormFieldTooLargeError,
    InternalError,
    Problem,
    RateLimitedError,
    TooLargeError,
)

log = logging.getLogger(__name__)


def problem_response(problem: dict[str, object]) -> Response:
    response = jsonify(problem)
    response.status_code = int(problem["status"])  # type: ignore[call-overload]
    response.mimetype = "application/problem+json"
    return response


class _WatchedBody:
    """The request body as the form parser reads it, noting whether the body itself ran
    past MAX_CONTENT_LENGTH (a chunked upload over the limit)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.over_limit = False

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except RequestEntityTooLarge:
            self.over_limit = True
            raise


class StrictFormDataParser(FormDataParser):
    """Werkzeug drops a form it cannot parse (a part header that is not UTF-8, a missing
    boundary) without a word; raising instead lets the handler say what is wrong.

    Werkzeug also answers 413 alike for a body over the upload limit and for a form field
    over MAX_FORM_MEMORY_SIZE; the second is told apart here, so that its answer names the
    field limit rather than the upload limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "silent": False})

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> Any:
        body = _WatchedBody(stream)
        try:
            _, form, files = super().parse(cast(IO[bytes], body), mimetype, content_length, options)
        except RequestEntityTooLarge:
            if body.over_limit:
                raise
            raise FormFieldTooLargeError(self._field_limit()) from None
        return stream, form, files

    def _field_limit(self) -> str:
        return (
            f"a form field other than the file (metadata, webhook_url, ...) is over "
            f"{self.max_form_memory_size} bytes, the limit for such fields (metadata itself "
            f"may be at most {MAX_METADATA_BYTES} bytes as JSON), or the form has more than "
            f"{self.max_form_parts} parts"
        )


class ApiRequest(Request):
    form_data_parser_class = StrictFormDataParser


def register_api(app: Flask) -> None:
    from app.api import artists, batches, console, health, jobs, openapi

    app.request_class = ApiRequest

    app.register_blueprint(console.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(batches.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(artists.bp)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(Problem, lambda exc: problem_response(exc.problem()))
    app.register_error_handler(RateLimitedError, _rate_limited)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _too_large(_exc: RequestEntityTooLarge) -> Response:
    from flask import current_app

    limit = current_app.config["SETTINGS"].max_upload_bytes
    return problem_response(
        TooLargeError(f"the upload exceeds the limit of {limit} bytes").problem()
    )


def _rate_limited(exc: RateLimitedError) -> Response:
    response = problem_response(exc.problem())
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    return problem_response(
        {
            "type": "about:blank",
            "title": exc.name,
            "status": exc.code or 500,
            "detail": exc.description,
            "code": code,
        }
    )


def _unexpected(exc: Exception) -> Response:
    outage = unavailable(exc)
    if outage is not None:
        log.warning("%s: %s: %s", outage.code, type(exc).__name__, exc)
        return problem_response(outage.problem())
    log.exception("unhandled error")
    return problem_response(InternalError("an unexpected error occurred; it is logged").problem())


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()

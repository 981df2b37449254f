"""HTTP layer: blueprints, problem+json errors, the per-request database session."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.errors import InternalError, Problem, RateLimitedError, TooLargeError

log = logging.getLogger(__name__)


def problem_response(problem: dict[str, object]) -> Response:
    response = jsonify(problem)
    response.status_code = int(problem["status"])  # type: ignore[call-overload]
    response.mimetype = "application/problem+json"
    return response


def register_api(app: Flask) -> None:
    from app.api import batches, console, health, jobs, openapi

    app.register_blueprint(console.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(batches.bp)
    app.register_blueprint(openapi.bp)
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
    log.exception("unhandled error")
    return problem_response(InternalError("an unexpected error occurred; it is logged").problem())


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()

"""/openapi.json: the OpenAPI 3.1 description of every endpoint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.api import artists_openapi
from app.api.openapi_batches import BATCH_PATHS, BATCH_SCHEMAS
from app.api.openapi_parts import CURSOR, PAGE_LIMIT, errors, page, upload_form
from app.joboptions import OPTION_HELP
from app.tables import JOB_STATUSES

bp = Blueprint("openapi", __name__)

_JOB = {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}
_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "The process is up",
            "security": [],
            "responses": {"200": {"description": "ok"}},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Database, broker and storage are reachable",
            "security": [],
            "responses": {
                "200": {"description": "ready"},
                "503": {"description": "a dependency is unreachable"},
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "security": [],
            "responses": {"200": {"description": "text exposition format"}},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }
    },
    "/v1/jobs": {
        "post": {
            "summary": "Submit a track for analysis",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "schema": {"type": "string", "maxLength": 255},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    **upload_form(
                        webhook_url={"type": "string"},
                        metadata={"type": "string", "description": "JSON object"},
                        options={"type": "string", "description": "JSON object: JobOptions"},
                    ),
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/RemoteSubmission"}
                    },
                },
            },
            "responses": {
                "202": {
                    "description": "Queued; Location names the job",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": _JOB,
                },
                **errors(400, 401, 404, 413, 415, 422, 429, 503),
            },
        },
        "get": {
            "summary": "List jobs, newest first",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": list(JOB_STATUSES)}},
                PAGE_LIMIT,
                CURSOR,
            ],
            "responses": {
                "200": {"description": "A page of jobs", "content": page("Job")},
                **errors(400, 401, 503),
            },
        },
    },
    "/v1/jobs/{job_id}": {
        "get": {
            "summary": "Poll a job",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {"description": "The job", "content": _JOB},
                **errors(401, 404, 503),
            },
        }
    },
    "/v1/jobs/{job_id}/cancel": {
        "post": {
            "summary": "Cancel a queued or running job (it stops at the next stage boundary)",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {"description": "The canceled job", "content": _JOB},
                **errors(401, 404, 409, 503),
            },
        }
    },
    "/v1/jobs/{job_id}/report": {
        "get": {
            "summary": "The job as a self-contained HTML page: progress, problem or report",
            "description": "Also authorised by the web console's cookie (set by /console/session).",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {"description": "HTML", "content": {"text/html": {}}},
                **errors(401, 404),
            },
        }
    },
    "/": {
        "get": {
            "summary": "The web console (HTML): paste a key, upload tracks, open reports",
            "security": [],
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
        }
    },
    "/console/session": {
        "post": {
            "summary": "Check the Bearer key and set the console cookie (HttpOnly, SameSite=Strict)"
            " that report pages and artifact downloads accept",
            "responses": {"204": {"description": "cookie set"}, **errors(401)},
        }
    },
    "/console/logout": {
        "post": {
            "summary": "Clear the console cookie",
            "security": [],
            "responses": {"204": {"description": "cookie cleared"}},
        }
    },
    "/v1/jobs/{job_id}/artifacts/{name}": {
        "get": {
            "summary": "Download an artifact (a redirect to a presigned URL on S3); "
            "also authorised by the console's cookie",
            "parameters": [
                _JOB_ID,
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "The file"},
                "302": {"description": "Presigned URL"},
                **errors(401, 404, 503),
            },
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
        },
    },
    "RemoteSubmission": {
        "type": "object",
        "required": ["source"],
        "properties": {
            "source": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["url"],
                        "properties": {"url": {"type": "string"}},
                    },
                    {
                        "type": "object",
                        "required": ["s3_key"],
                        "properties": {"s3_key": {"type": "string"}},
                    },
                ]
            },
            "webhook_url": {"type": "string"},
            "metadata": {"type": "object"},
            "options": {"$ref": "#/components/schemas/JobOptions"},
        },
    },
    "JobOptions": {
        "type": "object",
        "description": "Optional work; an option left out takes the deployment's default",
        "additionalProperties": False,
        "properties": {
            name: {"type": "boolean", "description": text} for name, text in OPTION_HELP.items()
        },
    },
    "Job": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {
                "enum": list(JOB_STATUSES),
                "description": "queued until the first stage begins, then running",
            },
            "queue_position": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "While queued: 1 + the queued jobs that start before this one",
            },
            "stage": {"type": ["string", "null"], "description": "The stage begun last"},
            "waiting_for": {
                "type": ["string", "null"],
                "description": "The stage due next, waiting in a queue for a worker",
            },
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "source": {"type": "object"},
            "metadata": {"type": ["object", "null"]},
            "options": {
                "oneOf": [{"$ref": "#/components/schemas/JobOptions"}, {"type": "null"}],
                "description": "As resolved at submission; null: the deployment's defaults",
            },
            "batch_id": {"type": ["string", "null"], "format": "uuid"},
            "error": {"oneOf": [{"$ref": "#/components/schemas/Problem"}, {"type": "null"}]},
            "result": {
                "type": ["object", "null"],
                "description": "The report (verdict, scores, timeline, models, artifacts)",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}


@bp.get("/openapi.json")
def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SoundScape",
            "version": "1",
            "description": "Scans music for AI deepfakes: cloned vocals and generated songs.",
        },
        "paths": PATHS | BATCH_PATHS | artists_openapi.PATHS,
        "components": {
            "schemas": SCHEMAS | BATCH_SCHEMAS | artists_openapi.SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }

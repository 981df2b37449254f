"""The /v1/batches part of /openapi.json (kept beside app/api/openapi.py, which merges it)."""

from __future__ import annotations

from typing import Any

from app.api.openapi_parts import CURSOR, errors, page, upload_form
from app.tables import BATCH_STATUSES, ITEM_STATUSES

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_BATCH = {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}}
_ITEM = {"application/json": {"schema": {"$ref": "#/components/schemas/BatchItem"}}}
_BATCH_ID = {
    "name": "batch_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "schema": {"maxLength": 255}}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}


_MANIFEST = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "CSV or JSONL"},
        "format": {"enum": ["csv", "jsonl"], "description": "default: from the file name"},
        "webhook_url": {"type": "string"},
        "job_webhooks": {"type": "string", "enum": ["true", "false"]},
        "metadata": {"type": "string", "description": "JSON object"},
    },
}

BATCH_PATHS: dict[str, Any] = {
    "/v1/batches": {
        "post": {
            "summary": "Create a batch: items, a CSV/JSONL manifest, an s3_prefix, or none "
            "(an open batch that takes uploads until closed)",
            "parameters": [_IDEMPOTENCY],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NewBatch"}},
                    "multipart/form-data": {"schema": _MANIFEST},
                },
            },
            "responses": {
                "202": {"description": "Created; Location names the batch", "content": _BATCH},
                **errors(400, 401, 404, 413, 422, 429),
            },
        },
        "get": {
            "summary": "List batches, newest first",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": list(BATCH_STATUSES)}},
                _LIMIT,
                CURSOR,
            ],
            "responses": {
                "200": {"description": "A page of batches", "content": page("Batch")},
                **errors(400, 401),
            },
        },
    },
    "/v1/batches/{batch_id}": {
        "get": {
            "summary": "A batch: status, counts per item status, progress",
            "parameters": [_BATCH_ID],
            "responses": {
                "200": {"description": "The batch", "content": _BATCH},
                **errors(401, 404),
            },
        }
    },
    "/v1/batches/{batch_id}/items": {
        "post": {
            "summary": "Add one uploaded file to an open batch (refused content is recorded "
            "as a failed item with the problem's code)",
            "parameters": [
                _BATCH_ID,
                {"name": "custom_id", "in": "query", "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "content": upload_form(custom_id={"type": "string", "maxLength": 255}),
            },
            "responses": {
                "202": {"description": "The new item", "content": _ITEM},
                "200": {"description": "The same file under the same custom_id", "content": _ITEM},
                **errors(400, 401, 404, 409, 429),
            },
        },
        "get": {
            "summary": "A page of items in submission order",
            "parameters": [
                _BATCH_ID,
                {"name": "status", "in": "query", "schema": {"enum": list(ITEM_STATUSES)}},
                _LIMIT,
                CURSOR,
            ],
            "responses": {
                "200": {"description": "Items", "content": page("BatchItem")},
                **errors(400, 401, 404),
            },
        },
    },
    "/v1/batches/{batch_id}/close": {
        "post": {
            "summary": "An open batch takes no more items",
            "parameters": [_BATCH_ID],
            "responses": {
                "200": {"description": "The batch", "content": _BATCH},
                **errors(401, 404, 409),
            },
        }
    },
    "/v1/batches/{batch_id}/cancel": {
        "post": {
            "summary": "Items not started never start; running ones stop after their stage",
            "parameters": [_BATCH_ID],
            "responses": {
                "200": {"description": "The batch", "content": _BATCH},
                **errors(401, 404, 409),
            },
        }
    },
    "/v1/batches/{batch_id}/results": {
        "get": {
            "summary": "Every item's result in submission order, streamed (also while running)",
            "parameters": [
                _BATCH_ID,
                {"name": "format", "in": "query", "schema": {"enum": ["jsonl", "csv"]}},
            ],
            "responses": {
                "200": {
                    "description": "One line per item: index, custom_id, job_id, status, verdict, "
                    "scores, top_artist_match, error_code, error_detail",
                    "content": {
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **errors(400, 401, 404),
            },
        }
    },
}

_ITEM_SCHEMA = {
    "type": "object",
    "required": ["custom_id", "source"],
    "properties": {
        "custom_id": {"type": "string", "maxLength": 255},
        "source": {"$ref": "#/components/schemas/RemoteSubmission/properties/source"},
        "metadata": {"type": "object"},
    },
}

BATCH_SCHEMAS: dict[str, Any] = {
    "NewBatch": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ITEM_SCHEMA},
            "source": {
                "type": "object",
                "required": ["s3_prefix"],
                "properties": {"s3_prefix": {"type": "string"}},
            },
            "webhook_url": {"type": "string"},
            "job_webhooks": {"type": "boolean", "default": False},
            "metadata": {"type": "object"},
        },
    },
    "Batch": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"enum": list(BATCH_STATUSES)},
            "item_count": {"type": "integer"},
            "counts": {
                "type": "object",
                "properties": {status: {"type": "integer"} for status in ITEM_STATUSES},
            },
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "metadata": {"type": ["object", "null"]},
            "webhook_url": {"type": ["string", "null"]},
            "job_webhooks": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "closed_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "BatchItem": {
        "type": "object",
        "properties": {
            "index": {"type": "integer", "description": "position in submission order"},
            "custom_id": {"type": ["string", "null"]},
            "status": {"enum": list(ITEM_STATUSES)},
            "job_id": {"type": ["string", "null"], "format": "uuid"},
            "source": {"type": ["object", "null"]},
            "sha256": {"type": ["string", "null"]},
            "metadata": {"type": ["object", "null"]},
            "error": {"oneOf": [_PROBLEM, {"type": "null"}]},
            "verdict": {"type": ["string", "null"]},
        },
    },
}
